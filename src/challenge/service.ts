// The challenge service: challenges run one at a time in arrival order (FIFO, as the reference
// miner), each against its own deadline counted from arrival, on the solver picked for it —
// hashcat once installed and warmed up, the built-in pool otherwise.
import type { ChallengeOutput, ChallengeTask } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { logOnlyProgress, type Progress } from '../progress.js';
import { BuiltinSolver } from './builtin.js';
import { HashcatSolver, type HashcatOptions } from './hashcat.js';
import { keyspaceSize } from './keyspace.js';
import type { Solver, SolveOutcome } from './solver.js';

export type SolverChoice = 'auto' | 'hashcat' | 'built-in';

export interface ChallengeServiceOptions {
  /** Which solver to use; 'auto' (default) takes hashcat when its warm-up succeeds. */
  solver?: SolverChoice;
  /** Milliseconds a challenge may take from its arrival, queue wait included; default 30000. */
  deadlineMs?: number;
  /** Challenges that may wait behind the running one; beyond it, 503; default 16. */
  maxQueue?: number;
  /** Search threads of the built-in solver; default os.availableParallelism(). */
  threads?: number;
  /** With 'auto', keyspaces up to this many candidates go to the built-in pool, which finishes them before hashcat starts up; default 2e7. */
  builtinUpTo?: number;
  hashcat?: HashcatOptions;
  /** Longest hashcat warm-up (its first kernel compile) in milliseconds; default 600000. */
  warmUpTimeoutMs?: number;
  log?: Logger;
  /** Shows a challenge being solved and the hashcat warm-up (log lines at start and end; a terminal line) [log only]. */
  progress?: Progress;
}

export const DEFAULT_CHALLENGE_DEADLINE_MS = 30_000;
export const DEFAULT_CHALLENGE_QUEUE = 16;
export const DEFAULT_BUILTIN_UP_TO = 2e7;

export type HashcatState = 'off' | 'warming-up' | 'ready' | 'failed';

export interface SolverInfo {
  /** The solver a large challenge goes to now. */
  solver: 'hashcat' | 'built-in';
  builtIn: { threads: number };
  hashcat: { state: HashcatState; path: string; version?: string; warmUpSeconds?: number; error?: string };
}

/** Thrown by submit() when the queue is full (the handler answers 503). */
export class ChallengeQueueFullError extends Error {
  constructor(limit: number) {
    super(`challenge queue is full (${limit} waiting)`);
    this.name = 'ChallengeQueueFullError';
  }
}

export interface SubmitOptions {
  /** Milliseconds since the epoch at which the request arrived (the deadline counts from it). */
  receivedAt?: number;
  /** A later deadline than the service's own is ignored. */
  deadline?: number;
  /** Cancels the challenge (e.g. the client went away). */
  signal?: AbortSignal;
}

interface Pending {
  task: ChallengeTask;
  signal: AbortSignal;
  settle(output: ChallengeOutput): void;
  fail(err: unknown): void;
}

export class ChallengeService {
  readonly deadlineMs: number;
  readonly maxQueue: number;
  readonly builtIn: BuiltinSolver;
  readonly hashcat: HashcatSolver | null;
  private readonly choice: SolverChoice;
  private readonly builtinUpTo: number;
  private readonly log: Logger | undefined;
  private readonly progress: Progress | undefined;
  private hashcatState: HashcatState;
  private hashcatError: string | undefined;
  private warmUpSeconds: number | undefined;
  private readonly warming: Promise<void>;
  private readonly waiting: Pending[] = [];
  private running = false;
  private closed = false;
  private readonly warmUpAbort = new AbortController();

  constructor(options: ChallengeServiceOptions = {}) {
    this.deadlineMs = positive(options.deadlineMs ?? DEFAULT_CHALLENGE_DEADLINE_MS, 'deadlineMs');
    this.maxQueue = Math.floor(options.maxQueue ?? DEFAULT_CHALLENGE_QUEUE);
    if (!(this.maxQueue >= 0)) throw new RangeError('maxQueue must be ≥ 0');
    this.choice = options.solver ?? 'auto';
    this.builtinUpTo = options.builtinUpTo ?? DEFAULT_BUILTIN_UP_TO;
    this.log = options.log;
    this.progress = options.progress ?? (options.log ? logOnlyProgress(options.log) : undefined);
    this.builtIn = new BuiltinSolver({ threads: options.threads });
    this.hashcat = this.choice === 'built-in' ? null : new HashcatSolver(options.hashcat);
    this.hashcatState = this.hashcat ? 'warming-up' : 'off';
    this.warming = this.warmUp(options.warmUpTimeoutMs ?? 600_000);
  }

  /** Resolves when the solver choice is settled (hashcat warmed up or given up). */
  async ready(): Promise<SolverInfo> {
    await this.warming;
    return this.info();
  }

  info(): SolverInfo {
    const hc = this.hashcat;
    return {
      solver: this.hashcatState === 'ready' ? 'hashcat' : 'built-in',
      builtIn: { threads: this.builtIn.threads },
      hashcat: {
        state: this.hashcatState,
        path: hc?.path ?? 'hashcat',
        ...(hc?.version ? { version: hc.version } : {}),
        ...(this.warmUpSeconds !== undefined ? { warmUpSeconds: this.warmUpSeconds } : {}),
        ...(this.hashcatError ? { error: this.hashcatError } : {}),
      },
    };
  }

  /** Challenges waiting behind the running one. */
  queued(): number {
    return this.waiting.length;
  }

  /**
   * Queues a checked challenge; resolves with the reply's output when it is solved, the
   * keyspace is exhausted, or its deadline passes. Throws ChallengeQueueFullError at once when
   * the queue is full.
   */
  submit(task: ChallengeTask, options: SubmitOptions = {}): Promise<ChallengeOutput> {
    if (this.closed) return Promise.reject(new Error('the challenge service is closed'));
    if (this.waiting.length >= this.maxQueue && this.running) return Promise.reject(new ChallengeQueueFullError(this.maxQueue));
    const receivedAt = options.receivedAt ?? Date.now();
    const deadline = Math.min(receivedAt + this.deadlineMs, options.deadline ?? Infinity);
    const signals = [AbortSignal.timeout(Math.max(0, deadline - Date.now()))];
    if (options.signal) signals.push(options.signal);
    const signal = AbortSignal.any(signals);
    return new Promise((settle, fail) => {
      this.waiting.push({ task, signal, settle, fail });
      void this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.warmUpAbort.abort();
    for (const job of this.waiting.splice(0)) job.fail(new Error('the challenge service is closed'));
    await this.warming;
    await Promise.all([this.builtIn.close(), this.hashcat?.close()]);
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.waiting.shift(); job; job = this.waiting.shift()) {
        try {
          job.settle(await this.runOne(job.task, job.signal));
        } catch (err) {
          job.fail(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async runOne(task: ChallengeTask, signal: AbortSignal): Promise<ChallengeOutput> {
    if (signal.aborted) return { password: null, local_execution_time: 0, error: 'the deadline passed before the challenge started' };
    const solver = this.pick(task);
    const work = this.progress?.start('challenge', { difficulty: task.length, solver: solver === this.builtIn ? 'built-in' : 'hashcat' });
    let outcome: SolveOutcome;
    try {
      try {
        outcome = await solver.solve(task, signal);
      } catch (err) {
        if (solver === this.builtIn) throw err;
        // hashcat failed on this challenge: the built-in pool takes it with the time left.
        this.log?.warn({ err: (err as Error).message }, 'hashcat failed; solving with the built-in solver');
        outcome = await this.builtIn.solve(task, signal);
      }
    } catch (err) {
      work?.end('failed', { err: (err as Error).message }, 'warn');
      throw err;
    }
    work?.end(outcome.status, { solver: outcome.solver });
    const error = outcome.status === 'found' ? null
      : outcome.status === 'exhausted' ? 'no password of this length and charset matches the hash'
      : 'the deadline passed before a password was found';
    return { password: outcome.password, local_execution_time: outcome.seconds, error };
  }

  private pick(task: ChallengeTask): Solver {
    const hc = this.hashcat;
    if (!hc || this.hashcatState !== 'ready' || !hc.supports(task)) return this.builtIn;
    if (this.choice === 'hashcat') return hc;
    return keyspaceSize(task.charset.length, task.length) <= this.builtinUpTo ? this.builtIn : hc;
  }

  private async warmUp(timeoutMs: number): Promise<void> {
    const hc = this.hashcat;
    if (!hc) return;
    try {
      const signal = AbortSignal.any([this.warmUpAbort.signal, AbortSignal.timeout(timeoutMs)]);
      await hc.probe();
      const work = this.progress?.start('hashcat warm-up', { version: hc.version });
      try {
        this.warmUpSeconds = await hc.warmUp(signal);
      } catch (err) {
        this.hashcatState = 'failed';
        this.hashcatError = (err as Error).message;
        if (work) work.end('failed; challenges go to the built-in solver', { err: this.hashcatError }, 'warn');
        else this.log?.warn({ err: this.hashcatError }, 'hashcat warm-up failed; challenges go to the built-in solver');
        return;
      }
      this.hashcatState = 'ready';
      work?.end('done; challenges go to hashcat');
    } catch (err) {
      this.hashcatState = 'failed';
      this.hashcatError = (err as Error).message;
      this.log?.warn({ err: this.hashcatError }, 'hashcat unavailable; challenges go to the built-in solver');
    }
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number`);
  return value;
}
