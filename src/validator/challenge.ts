// The validator's side of Challenge: challenges made as the reference validator makes them,
// the check of an answer, and rounds sent to a miner with their solve times.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import {
  challengeResponseSchema, challengeTask, DEFAULT_MAX_DIFFICULTY, type ChallengeRequest,
} from '../../protocol/index.js';
import { fitsTask, isAnswer } from '../challenge/solver.js';
import type { DendriteReply } from './dendrite.js';
import { refusalOfReply, type RefusalKind } from './refusals.js';

/** The characters the reference validator draws a challenge's charset from. */
export const CHALLENGE_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_+=[]{};:,.<>';
/** Characters in a challenge's charset. */
export const CHALLENGE_CHARSET_SIZE = 10;
/** Seconds a validator waits for a Challenge reply by default (the miner's own deadline is 30 s). */
export const DEFAULT_CHALLENGE_TIMEOUT_SECONDS = 30;

export interface GeneratedChallenge {
  request: ChallengeRequest;
  /** Kept by the validator, never sent. */
  password: string;
}

/** `$BLAKE2$` + hex of BLAKE2b-512(password ‖ salt), the hash format of mode 610. */
export function challengeHash(password: string, salt: string): string {
  return `$BLAKE2$${createHash('blake2b512').update(password + salt, 'utf8').digest('hex')}`;
}

/**
 * A challenge as the reference validator makes it: a password of `difficulty` characters
 * drawn from a shuffled 10-character subset of CHALLENGE_ALPHABET, a salt of 16 hex characters.
 */
export function generateChallenge(difficulty: number): GeneratedChallenge {
  if (!Number.isInteger(difficulty) || difficulty < 1) throw new RangeError(`difficulty must be an integer ≥ 1, not ${difficulty}`);
  const alphabet = [...CHALLENGE_ALPHABET];
  for (let i = alphabet.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [alphabet[i], alphabet[j]] = [alphabet[j]!, alphabet[i]!];
  }
  const charset = alphabet.slice(0, CHALLENGE_CHARSET_SIZE);
  const password = Array.from({ length: difficulty }, () => charset[randomInt(charset.length)]!).join('');
  const salt = randomBytes(8).toString('hex');
  return {
    password,
    request: {
      challenge_hash: challengeHash(password, salt),
      challenge_salt: salt,
      challenge_mode: '610',
      challenge_chars: charset.join(''),
      challenge_mask: '?1'.repeat(difficulty),
      challenge_difficulty: difficulty,
    },
  };
}

/** Whether `password` answers the challenge: right length, only its characters, right hash. */
export function verifyAnswer(request: ChallengeRequest, password: unknown): password is string {
  if (typeof password !== 'string') return false;
  // The miner's own reading of a challenge and check of an answer; no difficulty cap here.
  const task = challengeTask(request, request.challenge_difficulty);
  return typeof task !== 'string' && fitsTask(task, password) && isAnswer(task, password);
}

/** What runChallenges needs of a Dendrite. */
export interface ChallengeCaller {
  call(name: 'Challenge', body: Record<string, unknown>, opts?: { timeoutSeconds?: number }): Promise<DendriteReply>;
}

export interface ChallengeRound {
  round: number;
  /** Reply status code (0 when the call itself failed). */
  code: number;
  /** The miner's answer was checked and is right. */
  verified: boolean;
  /** Milliseconds from request to verified reply, as this validator saw it. */
  latencyMs: number;
  /** Seconds the miner says it spent solving. */
  localExecutionTime: number | null;
  /** Why the round failed, when it did. */
  error: string | null;
  /** Set when the miner refused rather than failed: this hotkey is not let in, or the miner is busy. */
  refusal?: RefusalKind;
}

export interface RunChallengesOptions {
  difficulty: number;
  /** Default 1. */
  rounds?: number;
  /** Default 30. */
  timeoutSeconds?: number;
  /** Called after each round (for progress output). */
  onRound?: (round: ChallengeRound) => void;
}

/** Sends `rounds` fresh challenges one after another and verifies each answer. */
export async function runChallenges(dendrite: ChallengeCaller, options: RunChallengesOptions): Promise<ChallengeRound[]> {
  const { difficulty } = options;
  if (!Number.isInteger(difficulty) || difficulty < 1 || difficulty > DEFAULT_MAX_DIFFICULTY) {
    throw new RangeError(`difficulty must be 1–${DEFAULT_MAX_DIFFICULTY}, not ${difficulty}`);
  }
  const rounds = options.rounds ?? 1;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be an integer ≥ 1, not ${rounds}`);
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_CHALLENGE_TIMEOUT_SECONDS;
  const results: ChallengeRound[] = [];
  for (let round = 1; round <= rounds; round++) {
    const challenge = generateChallenge(difficulty);
    const result = await oneRound(dendrite, round, challenge, timeoutSeconds);
    options.onRound?.(result);
    results.push(result);
    // A refused hotkey stays refused: more rounds would only be refused again.
    if (result.refusal === 'not_allowed') break;
  }
  return results;
}

async function oneRound(dendrite: ChallengeCaller, round: number, challenge: GeneratedChallenge, timeoutSeconds: number): Promise<ChallengeRound> {
  const started = performance.now();
  let reply: DendriteReply;
  try {
    reply = await dendrite.call('Challenge', { ...challenge.request }, { timeoutSeconds });
  } catch (err) {
    return { round, code: 0, verified: false, latencyMs: performance.now() - started, localExecutionTime: null, error: (err as Error).message };
  }
  const latencyMs = reply.latencyMs;
  if (reply.code !== 200) {
    const refusal = refusalOfReply(reply.code, reply.message);
    return { round, code: reply.code, verified: false, latencyMs, localExecutionTime: null, error: reply.message, ...(refusal ? { refusal } : {}) };
  }
  const parsed = challengeResponseSchema.safeParse(reply.body);
  if (!parsed.success) return { round, code: reply.code, verified: false, latencyMs, localExecutionTime: null, error: 'the reply body is not a Challenge response' };
  const { password, local_execution_time, error } = parsed.data.output;
  const verified = verifyAnswer(challenge.request, password);
  return {
    round, code: reply.code, verified, latencyMs, localExecutionTime: local_execution_time,
    error: verified ? null : error ?? (password === null ? 'no password in the reply' : 'the password does not match the hash'),
  };
}
