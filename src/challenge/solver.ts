// What every challenge solver offers, and the check every answer passes before it is sent.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ChallengeTask } from '../../protocol/index.js';

export type SolverName = 'hashcat' | 'built-in';

export interface SolveOutcome {
  /** The password, verified against the digest; null when not found. */
  password: string | null;
  /** found; exhausted (the whole keyspace holds no answer); aborted (deadline or cancel). */
  status: 'found' | 'exhausted' | 'aborted';
  solver: SolverName;
  /** Seconds spent by the solver. */
  seconds: number;
}

export interface Solver {
  readonly name: SolverName;
  /** Whether this solver can take the task at all (hashcat only takes one-byte characters). */
  supports(task: ChallengeTask): boolean;
  /** Searches the task's keyspace until an answer, exhaustion or `signal` aborts. */
  solve(task: ChallengeTask, signal: AbortSignal): Promise<SolveOutcome>;
  close(): Promise<void>;
}

/** Whether BLAKE2b-512(password ‖ salt) is the task's digest (constant-time compare). */
export function isAnswer(task: Pick<ChallengeTask, 'digest' | 'salt'>, password: string): boolean {
  const digest = createHash('blake2b512').update(Buffer.from(password, 'utf8')).update(task.salt).digest();
  return digest.length === task.digest.length && timingSafeEqual(digest, task.digest);
}

/** Whether the password has the task's length and uses only the task's characters. */
export function fitsTask(task: Pick<ChallengeTask, 'charset' | 'length'>, password: string): boolean {
  const chars = [...password];
  const allowed = new Set(task.charset);
  return chars.length === task.length && chars.every((c) => allowed.has(c));
}
