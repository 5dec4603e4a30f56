// Challenge: a proof-of-work test (hashcat mode 610, BLAKE2b-512 of password ‖ salt).
import { z } from 'zod';

export const DEFAULT_MAX_DIFFICULTY = 12;

// Types only: a value that is well-typed but unsolvable is refused in `output.error`.
export const challengeRequestSchema = z.object({
  challenge_hash: z.string().max(512),
  challenge_salt: z.string().max(1024),
  challenge_mode: z.string().max(16),
  challenge_chars: z.string().max(1024),
  challenge_mask: z.string().max(4096),
  challenge_difficulty: z.number({ invalid_type_error: 'must be an integer' }).int('must be an integer'),
});
export type ChallengeRequest = z.infer<typeof challengeRequestSchema>;

export const challengeOutputSchema = z.object({
  password: z.string().nullable(),
  local_execution_time: z.number().finite(),
  error: z.string().nullable(),
});
export type ChallengeOutput = z.infer<typeof challengeOutputSchema>;
export const challengeResponseSchema = z.object({ output: challengeOutputSchema });
export type ChallengeResponse = z.infer<typeof challengeResponseSchema>;

export interface ChallengeTask {
  /** 64 bytes, the target digest. */
  digest: Buffer;
  salt: Buffer;
  /** Distinct characters, as UTF-8 byte strings, in the order the charset gives them. */
  charset: string[];
  length: number;
}

/** Checks the values a solver relies on; returns the task, or the reason for `error`. */
export function challengeTask(req: ChallengeRequest, maxDifficulty = DEFAULT_MAX_DIFFICULTY): ChallengeTask | string {
  if (req.challenge_mode !== '610') return `challenge_mode ${JSON.stringify(req.challenge_mode)} is not supported (only 610)`;
  const d = req.challenge_difficulty;
  if (d <= 0 || d > maxDifficulty) return `challenge_difficulty must be 1–${maxDifficulty}, not ${d}`;
  if (req.challenge_mask !== '?1'.repeat(d)) return `challenge_mask must be "?1" repeated ${d} times`;
  const charset = [...req.challenge_chars];
  if (charset.length === 0) return 'challenge_chars is empty';
  if (new Set(charset).size !== charset.length) return 'challenge_chars has a repeated character';
  const m = /^\$BLAKE2\$([0-9a-fA-F]{128})$/.exec(req.challenge_hash);
  if (!m) return 'challenge_hash must be $BLAKE2$ followed by 128 hex digits';
  return { digest: Buffer.from(m[1]!, 'hex'), salt: Buffer.from(req.challenge_salt, 'utf8'), charset, length: d };
}
