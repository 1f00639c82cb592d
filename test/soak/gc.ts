/**
 * Full garbage collection without the --expose-gc command-line flag (the test runner starts
 * the workers): the flag can be set at run time, and `gc` then exists in a fresh context.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Heap in use after two full collections (the second frees what finalizers released). */
export function heapAfterGc(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

export const MiB = 1024 * 1024;
