// Challenge vectors hashed by Python's hashlib (an implementation independent of the miner's),
// with passwords drawn at random from the charset at test time.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import type { ChallengeRequest, ChallengeTask } from '../../protocol/index.js';

const PROGRAM = 'import sys, json, hashlib\nfor p, s in json.load(sys.stdin): print(hashlib.blake2b((p + s).encode("utf-8")).hexdigest())';

/** Hex BLAKE2b-512 of each password ‖ salt, computed by python3. */
export function pythonBlake2b(pairs: [string, string][]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', PROGRAM], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python3 hashlib failed: ${err.message} ${stderr}`));
      else resolve(stdout.trim().split('\n'));
    });
    child.stdin!.end(JSON.stringify(pairs));
  });
}

export interface Vector {
  password: string;
  request: ChallengeRequest;
  task: ChallengeTask;
}

export function randomPassword(charset: string, length: number): string {
  const chars = [...charset];
  return Array.from({ length }, () => chars[randomInt(chars.length)]!).join('');
}

/** One vector per (charset, length, salt): a random password and its hash from python3. */
export async function vectors(cases: { charset: string; length: number; salt?: string }[]): Promise<Vector[]> {
  const withPasswords = cases.map((c) => ({ ...c, salt: c.salt ?? '0123456789abcdef', password: randomPassword(c.charset, c.length) }));
  const hashes = await pythonBlake2b(withPasswords.map((c) => [c.password, c.salt]));
  return withPasswords.map((c, i) => {
    const request: ChallengeRequest = {
      challenge_hash: `$BLAKE2$${hashes[i]}`,
      challenge_salt: c.salt,
      challenge_mode: '610',
      challenge_chars: c.charset,
      challenge_mask: '?1'.repeat(c.length),
      challenge_difficulty: c.length,
    };
    const task: ChallengeTask = {
      digest: Buffer.from(hashes[i]!, 'hex'),
      salt: Buffer.from(c.salt, 'utf8'),
      charset: [...c.charset],
      length: c.length,
    };
    return { password: c.password, request, task };
  });
}

/** Charsets the tests cover: plain, shell-special, and (built-in only) multi-byte UTF-8. */
export const CHARSETS = {
  letters: 'abcdefghij',
  shell: `$'";&! \`\\|*?~<>()`,
  reference: '!@#$%^&*()',
  multiByte: 'aé€𝄞ßz',
  twoByte: 'éàüßñç',
} as const;
