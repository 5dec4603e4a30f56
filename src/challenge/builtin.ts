// The built-in solver: a warm pool of search threads, one per core, that share the keyspace
// chunk by chunk and all stop at the first answer or when the solve is cancelled.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ChallengeTask } from '../../protocol/index.js';
import { keyspaceSize, passwordAt } from './keyspace.js';
import { CONTROL, type WorkerJob, type WorkerResult } from './pool-messages.js';
import type { SearchJob } from './search.js';
import { isAnswer, type Solver, type SolveOutcome } from './solver.js';
import { serializer } from '../serial.js';

export interface BuiltinSolverOptions {
  /** Search threads; default os.availableParallelism(). */
  threads?: number;
  /** Candidates a thread takes at a time (bounds how fast it notices a stop); default 65536. */
  chunkSize?: number;
}

export const DEFAULT_CHUNK_SIZE = 1 << 16;
// Chunk numbers live in an int32 counter.
const MAX_CHUNKS = 2 ** 30;
const WORKER_URL = new URL('./worker.js', import.meta.url);

export interface BuiltinOutcome extends SolveOutcome {
  /** Candidates hashed across all threads. */
  hashes: number;
}

export class BuiltinSolver implements Solver {
  readonly name = 'built-in' as const;
  readonly threads: number;
  private readonly chunkSize: number;
  private readonly workers = new Set<Worker>();
  private readonly serialize = serializer();
  private nextId = 0;
  private closed = false;

  constructor(options: BuiltinSolverOptions = {}) {
    this.threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
    this.chunkSize = Math.max(1, Math.floor(options.chunkSize ?? DEFAULT_CHUNK_SIZE));
    for (let i = 0; i < this.threads; i++) this.spawn();
  }

  /** Search threads alive now (the pool keeps them between challenges). */
  liveWorkers(): number {
    return this.workers.size;
  }

  supports(): boolean {
    return true;
  }

  /** Solves one task at a time; later calls wait for earlier ones. */
  solve(task: ChallengeTask, signal: AbortSignal): Promise<BuiltinOutcome> {
    return this.serialize(() => this.run(task, signal));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers].map((w) => w.terminate()));
    this.workers.clear();
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_URL);
    worker.unref();
    this.workers.add(worker);
    worker.on('error', () => undefined); // reported to the running dispatch through 'exit'
    worker.once('exit', () => {
      this.workers.delete(worker);
      if (!this.closed) this.spawn();
    });
    return worker;
  }

  private async run(task: ChallengeTask, signal: AbortSignal): Promise<BuiltinOutcome> {
    if (this.closed) throw new Error('the built-in solver is closed');
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    if (signal.aborted) return { password: null, status: 'aborted', solver: this.name, seconds: 0, hashes: 0 };
    const total = keyspaceSize(task.charset.length, task.length);
    const chunkSize = Math.max(this.chunkSize, Math.ceil(total / MAX_CHUNKS));
    const control = new Int32Array(new SharedArrayBuffer(CONTROL.slots * 4));
    const stop = () => Atomics.store(control, CONTROL.stop, 1);
    signal.addEventListener('abort', stop, { once: true });
    const job: SearchJob = {
      digest: new Uint8Array(task.digest),
      salt: new Uint8Array(task.salt),
      charset: task.charset.map((c) => new Uint8Array(Buffer.from(c, 'utf8'))),
      length: task.length,
    };
    const id = ++this.nextId;
    try {
      const settled = await Promise.allSettled(
        [...this.workers].map((w) => this.dispatch(w, { id, job, control: control.buffer as SharedArrayBuffer, chunkSize, total }, stop)),
      );
      const results = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      const hashes = results.reduce((sum, r) => sum + r.hashed, 0);
      const hit = results.find((r) => r.found >= 0);
      if (hit) {
        const password = passwordAt(task.charset, task.length, hit.found);
        if (isAnswer(task, password)) return { password, status: 'found', solver: this.name, seconds: seconds(), hashes };
      }
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      const status = signal.aborted ? 'aborted' : 'exhausted';
      return { password: null, status, solver: this.name, seconds: seconds(), hashes };
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  // Hands the job to one thread; a thread that dies mid-job stops the others and fails the solve.
  private dispatch(worker: Worker, job: WorkerJob, stop: () => void): Promise<WorkerResult> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: WorkerResult) => {
        if (msg.id !== job.id) return;
        done();
        resolve(msg);
      };
      const onExit = (code: number) => {
        done();
        stop();
        reject(new Error(`a search thread exited (code ${code})`));
      };
      const done = () => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        worker.unref();
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      worker.ref();
      worker.postMessage(job);
    });
  }
}
