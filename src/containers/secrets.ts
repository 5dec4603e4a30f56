// The credentials of a rented container: a random root password and the renter's SSH keys.
// They reach the running container only on the stdin of a fixed command, never through
// an image layer, the container's env/cmd/labels, or a log line.
import { randomInt } from 'node:crypto';

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

// Fixed scripts (never built from user data): the first stdin line is "root:<password>" for
// chpasswd, the rest is the authorized_keys file, replaced atomically.
const WRITE_KEYS = 'umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys.new && mv -f /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys';
export const SET_CREDENTIALS_ARGV = ['/bin/sh', '-c', `IFS= read -r line && printf '%s\\n' "$line" | chpasswd && ${WRITE_KEYS}`];
export const SET_KEYS_ARGV = ['/bin/sh', '-c', WRITE_KEYS];

export function credentialsStdin(password: string, keys: AuthorizedKeys): string {
  return `root:${password}\n${authorizedKeysText(keys)}`;
}
