/**
 * JSON-RPC 2.0 messages (https://www.jsonrpc.org/specification): requests, notifications,
 * batches, and the checks a response must pass before it may settle a request.
 */
import type { Message } from '../../adapters/types.js';
import type { Reply } from './requester.js';

/** An error response's error object (specification section 5.1), as an `Error`. */
export class JsonRpcError extends Error {
  /**
   * The JSON-RPC error code: -32700 parse error, -32600 invalid request, -32601 method not
   * found, -32602 invalid params, -32603 internal error, -32000 to -32099 server errors, any
   * other integer defined by the application. A number, as the specification has it (like
   * `WebSocketCloseError.code`), not one of wsengine's string codes.
   */
  readonly code: number;
  /** The error's `data` member, when the server sent one. */
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'JsonRpcError';
    this.code = code;
    this.data = data;
  }
}

/** Parameters: by position or by name (section 4.2). */
export type JsonRpcParams = readonly unknown[] | Readonly<Record<string, unknown>>;

/** A notification the server sent: a request without an id (section 4.1). */
export interface JsonRpcNotification {
  readonly method: string;
  readonly params: JsonRpcParams | undefined;
}

/** A request the client sends; `id` absent for a notification. */
export interface JsonRpcCall {
  readonly method: string;
  readonly params?: JsonRpcParams;
}

export function encodeRequest(call: JsonRpcCall, id: number | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { jsonrpc: '2.0', method: call.method };
  if (call.params !== undefined) out.params = call.params;
  if (id !== undefined) out.id = id;
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** What one inbound message holds, as far as JSON-RPC is concerned. */
export interface DecodedJsonRpc {
  readonly replies: Reply[];
  readonly notifications: JsonRpcNotification[];
  /** Why parts of the message were not understood (each reported; the rest still counts). */
  readonly problems: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function readOne(item: unknown, out: DecodedJsonRpc): void {
  if (!isObject(item)) {
    out.problems.push('a member is not an object');
    return;
  }
  if (item.jsonrpc !== '2.0') {
    out.problems.push('"jsonrpc" is not "2.0"');
    return;
  }
  if (typeof item.method === 'string') {
    // A request or notification from the server (section 4). Requests with an id would need an
    // answer we cannot give: they are reported.
    if ('id' in item) out.problems.push(`the server sent a request (${item.method}) with an id`);
    else out.notifications.push({ method: item.method, params: item.params as JsonRpcParams | undefined });
    return;
  }
  const id = item.id;
  if (!(typeof id === 'number' || typeof id === 'string' || id === null)) {
    out.problems.push('a response without a valid "id"');
    return;
  }
  const hasResult = 'result' in item;
  const hasError = 'error' in item;
  // Section 5: exactly one of result and error.
  if (hasResult === hasError) {
    out.problems.push('a response must have exactly one of "result" and "error"');
    return;
  }
  if (hasResult) {
    out.replies.push({ id, result: item.result });
    return;
  }
  const error = item.error;
  if (!isObject(error) || typeof error.code !== 'number' || !Number.isInteger(error.code) || typeof error.message !== 'string') {
    out.problems.push('an error response whose "error" is not {code: integer, message: string}');
    return;
  }
  out.replies.push({ id, error: new JsonRpcError(error.code, error.message, error.data) });
}

/**
 * Read a message: a response, a notification, or a batch of them (an array, section 6). Throws a
 * `SyntaxError` when it is not JSON at all, or not an object or array.
 */
export function decodeJsonRpc(message: Message): DecodedJsonRpc {
  const text = typeof message.data === 'string' ? message.data : decoder.decode(message.data);
  const value: unknown = JSON.parse(text);
  const out: DecodedJsonRpc = { replies: [], notifications: [], problems: [] };
  if (Array.isArray(value)) {
    if (value.length === 0) out.problems.push('an empty batch');
    for (const item of value) readOne(item, out);
  } else if (isObject(value)) {
    readOne(value, out);
  } else {
    throw new SyntaxError('Not a JSON-RPC message: neither an object nor an array');
  }
  return out;
}
