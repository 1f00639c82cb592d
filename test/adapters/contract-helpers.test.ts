import { describe, expect, it } from 'vitest';
import {
  HandshakeError,
  InvalidArgumentError,
  MessageType,
  ReadQueue,
  StatusCode,
  WebSocketCloseError,
  isReservedStatusCode,
  isSendableStatusCode,
  normalizeWriteData,
  parseWebSocketUrl,
  raceSignal,
  statusCodeName,
  validateClose,
} from '../../src/index.js';

describe('status codes', () => {
  it('says which codes may be sent on the wire', () => {
    const sendable = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999];
    const notSendable = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 1000.5, NaN];
    for (const code of sendable) expect(isSendableStatusCode(code), String(code)).toBe(true);
    for (const code of notSendable) expect(isSendableStatusCode(code), String(code)).toBe(false);
  });

  it('marks 1005, 1006 and 1015 as reported but never sent', () => {
    expect([1005, 1006, 1015].every(isReservedStatusCode)).toBe(true);
    expect(isReservedStatusCode(1000)).toBe(false);
  });

  it('names codes after the IANA registry', () => {
    expect(statusCodeName(StatusCode.AbnormalClosure)).toBe('AbnormalClosure');
    expect(statusCodeName(4321)).toBe('Application');
    expect(statusCodeName(2500)).toBe('Unknown');
  });
});

describe('errors', () => {
  it('carry close codes, reasons and causes', () => {
    const cause = new Error('socket hang up');
    const error = new WebSocketCloseError(1006, '', { cause });
    expect(error.code).toBe(1006);
    expect(error.wasClean).toBe(false);
    expect(error.cause).toBe(cause);
    expect(error.message).toContain('AbnormalClosure');
    expect(new WebSocketCloseError(1000, 'bye').wasClean).toBe(true);
  });

  it('carry the status and headers of a refused handshake', () => {
    const error = new HandshakeError('refused', { status: 401, headers: { 'www-authenticate': 'Bearer' } });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('ERR_HANDSHAKE');
    expect(error.name).toBe('HandshakeError');
    expect(error.status).toBe(401);
    expect(error.headers['www-authenticate']).toBe('Bearer');
  });
});

describe('validation', () => {
  it('maps http(s) URLs to ws(s) and refuses other schemes and fragments', () => {
    expect(parseWebSocketUrl('http://127.0.0.1:8080/x').href).toBe('ws://127.0.0.1:8080/x');
    expect(parseWebSocketUrl('https://example.test/').protocol).toBe('wss:');
    expect(() => parseWebSocketUrl('ftp://example.test/')).toThrow(/scheme "ftp:"/);
    expect(() => parseWebSocketUrl('ws://example.test/#a')).toThrow(InvalidArgumentError);
    expect(() => parseWebSocketUrl('::')).toThrow(/Invalid WebSocket URL/);
  });

  it('checks close codes and the 123-byte reason limit', () => {
    expect(validateClose(1000, '€'.repeat(41))).toBe(123);
    expect(() => validateClose(1000, '€'.repeat(42))).toThrow(/126 UTF-8 bytes/);
    for (const code of [0, 999, 1005, 1006, 1015, 5000]) {
      expect(() => validateClose(code, ''), String(code)).toThrow(InvalidArgumentError);
    }
    expect(() => validateClose(1000, 5 as unknown as string)).toThrow(/reason/);
  });

  it('normalises write data and refuses wrong types', () => {
    expect(normalizeWriteData(MessageType.Text, 'x')).toBe('x');
    const view = normalizeWriteData(MessageType.Binary, new Uint16Array([1, 2]));
    expect(view).toBeInstanceOf(Uint8Array);
    expect((view as Uint8Array).byteLength).toBe(4);
    expect(() => normalizeWriteData(MessageType.Binary, 'x')).toThrow(/binary message/);
    expect(() => normalizeWriteData(MessageType.Text, 1)).toThrow(/number/);
    expect(() => normalizeWriteData(9, 'x')).toThrow(/message type 9/);
    expect(() => normalizeWriteData(MessageType.Text, new Uint8Array([0xc3]))).toThrow(/UTF-8/);
  });
});

describe('ReadQueue', () => {
  const text = (data: string) => ({ type: MessageType.Text, data }) as const;

  it('hands messages to waiting readers in order, then queues', async () => {
    const queue = new ReadQueue();
    const first = queue.read();
    const second = queue.read();
    queue.push(text('a'));
    queue.push(text('b'));
    queue.push(text('c'));
    expect((await first).data).toBe('a');
    expect((await second).data).toBe('b');
    expect(queue.length).toBe(1);
    expect((await queue.read()).data).toBe('c');
  });

  it('pauses past the high-water mark and resumes once drained to half', async () => {
    const events: string[] = [];
    const queue = new ReadQueue({ highWaterMessages: 4, pause: () => events.push('pause'), resume: () => events.push('resume') });
    for (let i = 0; i < 4; i++) queue.push(text(String(i)));
    expect(events).toEqual(['pause']);
    expect(queue.paused).toBe(true);
    await queue.read();
    expect(events).toEqual(['pause']);
    await queue.read();
    expect(events).toEqual(['pause', 'resume']);
  });

  it('pauses on bytes too', () => {
    let paused = false;
    const queue = new ReadQueue({ highWaterBytes: 10, pause: () => (paused = true) });
    queue.push({ type: MessageType.Binary, data: new Uint8Array(10) });
    expect(paused).toBe(true);
  });

  it('delivers queued messages before a failure, unless dropped', async () => {
    const closed = new WebSocketCloseError(1001, 'away');
    const queue = new ReadQueue();
    queue.push(text('last'));
    queue.fail(closed);
    expect((await queue.read()).data).toBe('last');
    await expect(queue.read()).rejects.toBe(closed);
    await expect(queue.read()).rejects.toBe(closed);

    const dropped = new ReadQueue();
    dropped.push(text('gone'));
    dropped.fail(closed, true);
    await expect(dropped.read()).rejects.toBe(closed);
  });

  it('rejects an aborted read and gives its message to the next reader', async () => {
    const queue = new ReadQueue();
    const controller = new AbortController();
    const aborted = queue.read(controller.signal);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    queue.push(text('kept'));
    expect((await queue.read()).data).toBe('kept');
  });
});

describe('raceSignal', () => {
  it('rejects with the reason and runs the undo callback', async () => {
    const controller = new AbortController();
    let undone = false;
    const never = new Promise<never>(() => {});
    const raced = raceSignal(never, controller.signal, () => (undone = true));
    controller.abort(new Error('cut'));
    await expect(raced).rejects.toThrow('cut');
    expect(undone).toBe(true);
  });

  it('passes the result through when not aborted', async () => {
    await expect(raceSignal(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7);
    await expect(raceSignal(Promise.resolve(7), undefined)).resolves.toBe(7);
  });
});
