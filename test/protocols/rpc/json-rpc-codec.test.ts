import { describe, expect, it } from 'vitest';
import { MessageType } from '../../../src/adapters/types.js';
import { decodeJsonRpc, encodeRequest, JsonRpcError } from '../../../src/protocols/rpc/json-rpc-codec.js';

const text = (value: unknown) => ({ type: MessageType.Text, data: typeof value === 'string' ? value : JSON.stringify(value) });

describe('JSON-RPC 2.0 codec', () => {
  it('encodes calls and notifications (no id), params only when given', () => {
    expect(encodeRequest({ method: 'add', params: [1, 2] }, 7)).toEqual({ jsonrpc: '2.0', method: 'add', params: [1, 2], id: 7 });
    expect(encodeRequest({ method: 'ping' }, undefined)).toEqual({ jsonrpc: '2.0', method: 'ping' });
  });

  it('decodes results, error objects and server notifications', () => {
    expect(decodeJsonRpc(text({ jsonrpc: '2.0', id: 1, result: { a: 1 } })).replies).toEqual([{ id: 1, result: { a: 1 } }]);
    const failed = decodeJsonRpc(text({ jsonrpc: '2.0', id: 'x', error: { code: -32601, message: 'Method not found', data: 'nope' } }));
    const error = failed.replies[0]!.error as JsonRpcError;
    expect(error).toBeInstanceOf(JsonRpcError);
    expect([error.code, error.message, error.data]).toEqual([-32601, 'Method not found', 'nope']);
    expect(decodeJsonRpc(text({ jsonrpc: '2.0', method: 'tick', params: [3] })).notifications).toEqual([{ method: 'tick', params: [3] }]);
  });

  it('decodes a batch of responses and reports the bad members, keeping the good ones', () => {
    const out = decodeJsonRpc(
      text([
        { jsonrpc: '2.0', id: 1, result: 1 },
        { jsonrpc: '1.0', id: 2, result: 2 },
        { jsonrpc: '2.0', id: 3, result: 3, error: { code: 1, message: 'both' } },
        { jsonrpc: '2.0', id: 4, error: { code: 'x', message: 'bad code' } },
        42,
      ]),
    );
    expect(out.replies).toEqual([{ id: 1, result: 1 }]);
    expect(out.problems).toHaveLength(4);
  });

  it('reads UTF-8 binary frames, and throws on what is not JSON or not an object or array', () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ jsonrpc: '2.0', id: 9, result: 'é' }));
    expect(decodeJsonRpc({ type: MessageType.Binary, data: bytes }).replies).toEqual([{ id: 9, result: 'é' }]);
    expect(() => decodeJsonRpc(text('not json {'))).toThrow(SyntaxError);
    expect(() => decodeJsonRpc(text('17'))).toThrow(SyntaxError);
    expect(() => decodeJsonRpc({ type: MessageType.Binary, data: new Uint8Array([0xff, 0xfe]) })).toThrow();
  });

  it('accepts an error with id null (the server could not read the id)', () => {
    const out = decodeJsonRpc(text({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }));
    expect(out.replies[0]!.id).toBeNull();
  });
});
