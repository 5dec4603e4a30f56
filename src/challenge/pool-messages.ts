// Messages between the built-in solver and its search threads.
import type { SearchJob } from './search.js';

/** Slots of the shared Int32Array that coordinates one solve. */
export const CONTROL = { stop: 0, nextChunk: 1, slots: 2 } as const;

export interface WorkerJob {
  id: number;
  job: SearchJob;
  /** SharedArrayBuffer of CONTROL.slots int32s. */
  control: SharedArrayBuffer;
  chunkSize: number;
  /** Candidates in the keyspace. */
  total: number;
}

export interface WorkerResult {
  id: number;
  /** Index of the answer, or -1. */
  found: number;
  /** Candidates this thread hashed. */
  hashed: number;
}
