// The credentials of a rented container: a random root password and the renter's SSH keys.
// They reach the container only on its main process's stdin (docker attach; the password as
// a SHA-512-crypt hash) or as files written through Docker's archive API — never through an
// image layer, the container's env/cmd/labels, a process's arguments, or a log line.
import { randomInt } from 'node:crypto';
import type { ContainerFile } from './archive.js';
import { randomSalt, sha512Crypt } from './shadow.js';

export const DEFAULT_PASSWORD_LENGTH = 24;
const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A password from the CSPRNG: 24 characters of a 57-letter alphabet ≈ 140 bits. */
export function generatePassword(length = DEFAULT_PASSWORD_LENGTH): string {
  if (length < 20) throw new RangeError('a root password has at least 20 characters');
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

export type KeyType = 'user' | 'terminal';

/** The renter's key (`user`, replaced by exchange_key key_type=user) and the validator's terminal key. */
export type AuthorizedKeys = Partial<Record<KeyType, string>>;

const BLOCK_HEADER: Record<KeyType, string> = {
  user: '# compute-miner: user key (exchange_key key_type=user replaces this block)',
  terminal: '# compute-miner: terminal key (exchange_key key_type=terminal replaces this block)',
};

/**
 * /root/.ssh/authorized_keys as two marked blocks, so exchanging one kind of key keeps the
 * other. The keys were checked as single OpenSSH lines (protocol/keys.ts) before reaching here.
 */
export function authorizedKeysText(keys: AuthorizedKeys): string {
  const lines: string[] = [];
  for (const kind of ['user', 'terminal'] as const) {
    lines.push(BLOCK_HEADER[kind]);
    const key = keys[kind];
    if (key) lines.push(key);
  }
  return lines.join('\n') + '\n';
}

/** Replaces one block and keeps the other. */
export function exchangeKey(keys: AuthorizedKeys, kind: KeyType, key: string): AuthorizedKeys {
  return { ...keys, [kind]: key };
}

export const AUTHORIZED_KEYS_PATH = '/root/.ssh/authorized_keys';

/** root's authorized_keys: root-owned, 0600, as sshd's StrictModes wants it. */
export function authorizedKeysFile(keys: AuthorizedKeys): ContainerFile {
  return { path: AUTHORIZED_KEYS_PATH, content: Buffer.from(authorizedKeysText(keys), 'utf8'), mode: 0o600, uid: 0, gid: 0 };
}

/**
 * What the container's entry script reads on stdin (base-image.ts START_SSHD): root's password
 * hash on the first line, the motd as base64 on the second (empty: keep the image's), then the
 * authorized_keys file. One write sets all three, with no archive copy into the container.
 */
export function credentialsPayload(password: string, keys: AuthorizedKeys, motd = ''): string {
  return `${sha512Crypt(password, randomSalt())}\n${Buffer.from(motd, 'utf8').toString('base64')}\n${authorizedKeysText(keys)}`;
}
