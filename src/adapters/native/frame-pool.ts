/**
 * Memory for large outgoing frames, reused once the socket has written them.
 *
 * A fresh buffer for every large frame costs more than masking it: the allocator hands back
 * pages the CPU has to fault in and the garbage collector has to account for, and the copy into
 * them misses every cache. Frames of LARGE_FRAME bytes or more are built instead in one of a few
 * buffers shared by every connection, each returned to the pool by the write's callback (once
 * the socket no longer reads it). At most POOL_MAX buffers are kept (1 MiB in all).
 */
const LARGE_FRAME = 16 * 1024;
/** Largest frame built in pooled memory: 256 KiB of payload and the 14-byte header. */
const CAPACITY = 256 * 1024 + 16;
const POOL_MAX = 4;

const free: ArrayBuffer[] = [];

/** Memory for a frame of `size` bytes: pooled for large frames, else fresh. */
export function allocFrame(size: number): Buffer {
  if (size < LARGE_FRAME || size > CAPACITY) return Buffer.allocUnsafe(size);
  return Buffer.from(free.pop() ?? new ArrayBuffer(CAPACITY), 0, size);
}

/** Whether `frame` lives in pooled memory, to be given back with {@link releaseFrame} once written. */
export function isPooled(frame: Buffer): boolean {
  return frame.byteOffset === 0 && frame.buffer.byteLength === CAPACITY;
}

/** Give a pooled frame's memory back; call it exactly once, when nothing reads the frame any more. */
export function releaseFrame(frame: Buffer): void {
  if (free.length < POOL_MAX) free.push(frame.buffer as ArrayBuffer);
}
