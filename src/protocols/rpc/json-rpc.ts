/**
 * A JSON-RPC 2.0 client over an engine: `call`, `notify`, batches, server notifications as
 * events. Built on the generic requester, so it inherits its timeouts, aborts, in-flight cap
 * and drop policy (`RequestNotSentError`, `RequestOutcomeUnknownError`, `idempotent` re-sends).
 */
import { MessageType, type Message } from '../../adapters/types.js';
import { reportingEmitter } from '../../engine/events.js';
import { RequesterClosedError, RequestNotSentError } from './errors.js';
import {
  decodeJsonRpc,
  encodeRequest,
  type JsonRpcCall,
  type JsonRpcNotification,
  type JsonRpcParams,
} from './json-rpc-codec.js';
import {
  createRequester,
  type Reply,
  type RequestOptions,
  type Requester,
  type RequesterEngine,
  type RequesterOptions,
} from './requester.js';

/** One member of a batch: a call (answered) or, with `notify: true`, a notification. */
export interface JsonRpcBatchItem extends JsonRpcCall {
  readonly notify?: boolean;
}

/** The client's events. */
export interface JsonRpcEvents {
  /** A notification from the server (a request without an id). */
  notification: [notification: JsonRpcNotification];
  /** A message (or part of a batch) that is not valid JSON-RPC; the connection is kept. */
  malformed: [error: unknown, message: Message];
  /** A response whose id matches no call in flight. */
  'unknown-reply': [reply: Reply, message: Message];
  /** An idempotent call was written again after its connection dropped. */
  resent: [id: number];
  /** A listener threw. */
  error: [error: unknown];
}

/** Notification methods and their params, for typed `onNotification` listeners. */
export type NotificationMap = Record<string, unknown>;

export interface JsonRpcClient<Notifications extends NotificationMap = NotificationMap> {
  /** Call `method`; resolves with its result, rejects with a `JsonRpcError` or why it failed. */
  call<Result = unknown>(method: string, params?: JsonRpcParams, options?: RequestOptions): Promise<Result>;
  /** Send a notification (no answer). Rejects with `RequestNotSentError` when it could not be written. */
  notify(method: string, params?: JsonRpcParams): Promise<void>;
  /**
   * Send calls and notifications in one frame (section 6). Resolves, once every call settled,
   * with one settled result per item, in order (notifications: fulfilled with `undefined`).
   */
  batch(items: readonly JsonRpcBatchItem[], options?: RequestOptions): Promise<Array<PromiseSettledResult<unknown>>>;
  /** Listen to notifications of one method; returns a remover. */
  onNotification<M extends keyof Notifications & string>(method: M, listener: (params: Notifications[M]) => void): () => void;
  on<E extends keyof JsonRpcEvents>(event: E, listener: (...args: JsonRpcEvents[E]) => void): () => void;
  off<E extends keyof JsonRpcEvents>(event: E, listener: (...args: JsonRpcEvents[E]) => void): void;
  /** The requester underneath (in-flight counts, or to share its table with other layers). */
  readonly requester: Requester<JsonRpcRequest, unknown>;
  /** Reject every call in flight and detach from the engine. */
  close(): void;
}

/** What the requester carries for each call: the call, and notifications riding in its batch frame. */
export interface JsonRpcRequest {
  readonly call: JsonRpcCall;
  readonly riders?: readonly JsonRpcCall[];
}

export type JsonRpcClientOptions = RequesterOptions;

/** A JSON-RPC 2.0 client on `engine`. Text frames out; text or binary (UTF-8) frames in. */
export function createJsonRpcClient<Notifications extends NotificationMap = NotificationMap>(
  engine: RequesterEngine,
  options: JsonRpcClientOptions = {},
): JsonRpcClient<Notifications> {
  // Errors nobody asked for (hooks, listeners, failed sends): the `error` event, else the console.
  const { events, report } = reportingEmitter<JsonRpcEvents>();

  const byMethod = new Map<string, Set<(params: never) => void>>();

  const requester = createRequester<JsonRpcRequest, unknown>(
    engine,
    {
      encode: (request, id) => {
        if (request.riders === undefined) return JSON.stringify(encodeRequest(request.call, id));
        return JSON.stringify([encodeRequest(request.call, id), ...request.riders.map((r) => encodeRequest(r, undefined))]);
      },
      encodeBatch: (requests) =>
        JSON.stringify(
          requests.flatMap(({ request, id }) => [
            encodeRequest(request.call, id),
            ...(request.riders ?? []).map((r) => encodeRequest(r, undefined)),
          ]),
        ),
      decode: (message) => {
        const decoded = decodeJsonRpc(message);
        for (const problem of decoded.problems) events.emit('malformed', new SyntaxError(`Invalid JSON-RPC: ${problem}`), message);
        for (const notification of decoded.notifications) {
          events.emit('notification', notification);
          const listeners = byMethod.get(notification.method);
          if (listeners) {
            for (const listener of [...listeners]) {
              try {
                listener(notification.params as never);
              } catch (error) {
                report(error); // the user's listener, not the message, is at fault
              }
            }
          }
        }
        return decoded.replies;
      },
    },
    options,
  );
  requester.on('malformed', (error, message) => events.emit('malformed', error, message));
  requester.on('unknown-reply', (reply, message) => events.emit('unknown-reply', reply, message));
  requester.on('resent', (id) => events.emit('resent', id));
  requester.on('error', report);

  let closed = false;

  async function sendNotifications(calls: readonly JsonRpcCall[]): Promise<void> {
    // A closed client is detached from the engine: nothing of it may go out any more.
    if (closed) throw new RequesterClosedError();
    const body = calls.length === 1 ? encodeRequest(calls[0]!, undefined) : calls.map((c) => encodeRequest(c, undefined));
    try {
      await engine.send(MessageType.Text, JSON.stringify(body));
    } catch (error) {
      throw new RequestNotSentError('The notification was not sent', { cause: error });
    }
  }

  return {
    call<Result>(method: string, params?: JsonRpcParams, callOptions?: RequestOptions): Promise<Result> {
      return requester.request({ call: { method, params } }, callOptions) as Promise<Result>;
    },
    notify(method, params) {
      return sendNotifications([{ method, params }]);
    },
    async batch(items, batchOptions) {
      // An empty array is not a batch (specification section 6: the server answers it with an error).
      if (items.length === 0) {
        if (closed) throw new RequesterClosedError();
        return [];
      }
      const calls: JsonRpcRequest[] = [];
      const slots: number[] = [];
      const leading: JsonRpcCall[] = [];
      items.forEach((item, index) => {
        const call = { method: item.method, params: item.params };
        if (item.notify) {
          // A notification rides in the frame of the call before it (or the first call).
          if (calls.length === 0) leading.push(call);
          else {
            const last = calls[calls.length - 1]!;
            calls[calls.length - 1] = { call: last.call, riders: [...(last.riders ?? []), call] };
          }
        } else {
          calls.push({ call });
          slots.push(index);
        }
      });
      const results: Array<PromiseSettledResult<unknown>> = items.map(() => ({ status: 'fulfilled', value: undefined }));
      if (calls.length === 0) {
        await sendNotifications(leading);
        return results;
      }
      if (leading.length > 0) calls[0] = { call: calls[0]!.call, riders: [...leading, ...(calls[0]!.riders ?? [])] };
      const settled = await Promise.allSettled(
        calls.length === 1 ? [requester.request(calls[0]!, batchOptions)] : requester.requestBatch(calls, batchOptions),
      );
      settled.forEach((result, i) => {
        results[slots[i]!] = result;
      });
      return results;
    },
    onNotification(method, listener) {
      let set = byMethod.get(method);
      if (!set) byMethod.set(method, (set = new Set()));
      set.add(listener as (params: never) => void);
      return () => {
        set.delete(listener as (params: never) => void);
        if (set.size === 0) byMethod.delete(method);
      };
    },
    on(event, listener) {
      return events.on(event, listener);
    },
    off(event, listener) {
      events.off(event, listener);
    },
    requester,
    close() {
      closed = true;
      requester.close();
    },
  };
}
