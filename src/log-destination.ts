// Where log lines go: a file descriptor written without ever blocking or stopping the miner.
// A destination that goes away (a closed pipe: EPIPE; a full disk: ENOSPC) drops lines and
// counts them; the miner goes on serving. pino's own destination (sonic-boom) retries a failed
// write forever when the process exits, so a closed pipe kept the miner from stopping.
import { writeSync, write } from 'node:fs';

/** Lines kept in memory while the destination is slow; more are dropped [4 MiB]. */
export const DEFAULT_LOG_BUFFER_BYTES = 4 * 1024 * 1024;
/** After a write fails (a full disk), writing is tried again after this [1 s]. */
export const LOG_RETRY_AFTER_MS = 1000;
/** A destination that is full for a moment (EAGAIN) is tried again after this [20 ms]. */
const BUSY_RETRY_MS = 20;
/** At exit, what is still buffered gets this long to be written [200 ms]. */
const EXIT_FLUSH_MS = 200;

/** Errors after which the destination never takes a line again. */
const GONE = new Set(['EPIPE', 'EBADF', 'EINVAL', 'ECONNRESET']);

let droppedTotal = 0;

/** Log lines dropped by every destination of this process (for /metrics). */
export function droppedLogLines(): number {
  return droppedTotal;
}

/** Counts a dropped line of another writer (standard output or error going away). */
export function countDroppedLogLines(n: number): void {
  droppedTotal += n;
}

export interface LogDestination {
  /** Takes one or more whole lines; never throws, never blocks. */
  write(chunk: string): boolean;
  /** Writes what is buffered, within a short bound; never throws (pino calls it on fatal). */
  flushSync(): void;
  /** Lines this destination dropped. */
  dropped(): number;
  /** Whether the destination went away for good (EPIPE). */
  gone(): boolean;
}

const lines = (text: string | Buffer) => {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return Math.max(n, 1);
};

const live = new Set<LogDestination>();
let exitHooked = false;

export function fdDestination(fd: number, opts: { maxBufferedBytes?: number } = {}): LogDestination {
  const max = opts.maxBufferedBytes ?? DEFAULT_LOG_BUFFER_BYTES;
  const queue: string[] = [];
  let queued = 0;
  let pending: Buffer | null = null;
  let writing = false;
  let resumeAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let isGone = false;
  let dropped = 0;

  const drop = (text: string | Buffer) => {
    const n = lines(text);
    dropped += n;
    droppedTotal += n;
  };
  const dropAll = () => {
    if (pending) drop(pending);
    for (const q of queue) drop(q);
    pending = null;
    queue.length = 0;
    queued = 0;
  };
  const failed = (code: string | undefined) => {
    if (code !== undefined && GONE.has(code)) {
      isGone = true;
      dropAll();
    } else {
      // A full disk may free up: this chunk is lost, the next ones are tried in a while.
      if (pending) drop(pending);
      pending = null;
      resumeAt = Date.now() + LOG_RETRY_AFTER_MS;
    }
  };
  const next = (): Buffer | null => {
    if (pending) return pending;
    if (queue.length === 0) return null;
    pending = Buffer.from(queue.join(''));
    queue.length = 0;
    queued = 0;
    return pending;
  };
  const later = (ms: number) => {
    if (timer) return;
    timer = setTimeout(() => { timer = undefined; pump(); }, ms);
    timer.unref();
  };
  function pump(): void {
    if (writing || isGone) return;
    const wait = resumeAt - Date.now();
    if (wait > 0) return later(wait);
    const buf = next();
    if (!buf) return;
    writing = true;
    write(fd, buf, 0, buf.length, null, (err, n) => {
      writing = false;
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EBUSY') return later(BUSY_RETRY_MS);
        failed(err.code);
      } else {
        pending = n < buf.length ? buf.subarray(n) : null;
      }
      pump();
    });
  }

  const destination: LogDestination = {
    write(chunk) {
      if (isGone || queued + chunk.length > max) {
        drop(chunk);
        return true;
      }
      queue.push(chunk);
      queued += chunk.length;
      pump();
      return true;
    },
    flushSync() {
      if (isGone || writing) return; // a write in flight owns `pending`
      const end = Date.now() + EXIT_FLUSH_MS;
      for (let buf = next(); buf && !isGone; buf = next()) {
        try {
          const n = writeSync(fd, buf);
          pending = n < buf.length ? buf.subarray(n) : null;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if ((code === 'EAGAIN' || code === 'EBUSY') && Date.now() < end) continue;
          failed(code === 'EAGAIN' || code === 'EBUSY' ? 'EPIPE' : code);
          return;
        }
      }
    },
    dropped: () => dropped,
    gone: () => isGone,
  };
  live.add(destination);
  if (!exitHooked) {
    exitHooked = true;
    // What is still buffered when the process exits gets one bounded try.
    process.on('exit', () => { for (const d of live) d.flushSync(); });
  }
  return destination;
}

let stdioGuarded = false;

/**
 * Standard output and error that go away (a closed pipe, a hung-up terminal) no longer end the
 * process with an unhandled 'error': what cannot be written is dropped and counted.
 */
export function guardStandardStreams(): void {
  if (stdioGuarded) return;
  stdioGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => countDroppedLogLines(1));
  }
}
