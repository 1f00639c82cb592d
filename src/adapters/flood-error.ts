/**
 * The error a connection fails with when the peer sends more control frames than it lets us
 * answer. RFC 6455 section 5.5.2 asks for a pong per ping, but a peer that pings without
 * reading would make the pongs pile up in memory: past `limit` answers waiting unsent, the
 * adapter gives up (the native adapter closes with 1008, policy violation; the ws adapter's
 * `ws` socket is terminated, reported as 1006 with this error as the cause).
 */
import { errorClass } from './errors.js';

/**
 * The most pongs that may wait unsent (written to the socket, not yet handed to the system), on
 * every adapter that answers pings. A burst is answered in full (one socket read holds about
 * 1,000 pings of 125 bytes, so bursts four times that size pass); past the limit the connection
 * is failed. At most about 540 KB of pongs are held.
 */
export const MAX_PENDING_PONGS = 4096;

export class PingFloodError extends /* @__PURE__ */ errorClass('PingFloodError') {
  /** How many pongs may wait unsent before the connection is failed. */
  readonly limit: number;
  constructor(limit: number) {
    super(
      `The server sent pings faster than it read our pongs: more than ${limit} pongs waited unsent (the limit on pending pongs)`,
    );
    this.limit = limit;
  }
}
