// Checks of the renter-supplied keys, before anything uses them.
import { createPublicKey } from 'node:crypto';
import ssh2 from 'ssh2';

// ssh2 is CommonJS: its named exports are not visible to an ES module import.
const ssh2Utils = ssh2.utils;

export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 4096;
const MAX_PEM_LENGTH = 4096;

/** Returns null when `pem` is an RSA SubjectPublicKeyInfo PEM of 2048–4096 bits, else why not. */
export function rsaPublicKeyProblem(pem: string): string | null {
  if (pem.length > MAX_PEM_LENGTH) return 'is too long for an RSA public key';
  if (!/^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/.test(pem.trim() + '\n')) {
    return 'must be a PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----")';
  }
  try {
    const key = createPublicKey({ key: pem, format: 'pem' });
    if (key.asymmetricKeyType !== 'rsa') return `must be an RSA key, not ${key.asymmetricKeyType}`;
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) return `must be ${MIN_RSA_BITS}–${MAX_RSA_BITS} bits, not ${bits}`;
    return null;
  } catch {
    return 'is not a valid PEM public key';
  }
}

const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];
const MAX_SSH_KEY_LENGTH = 16 * 1024;
// One line: key type, base64 blob, optional printable comment. No authorized_keys options.
const SSH_LINE = /^([a-z0-9@.-]+) ([A-Za-z0-9+/]+={0,3})(?: [\x20-\x7e]{0,256})?$/;

/** Returns null when `line` is a single OpenSSH public key line that parses, else why not. */
export function sshPublicKeyProblem(line: string): string | null {
  if (line.length > MAX_SSH_KEY_LENGTH) return 'is too long for an SSH public key';
  const match = SSH_LINE.exec(line);
  if (!match) return 'must be one OpenSSH public key line ("ssh-ed25519 AAAA... comment")';
  if (!SSH_KEY_TYPES.includes(match[1]!)) return `key type ${match[1]} is not supported`;
  const parsed = ssh2Utils.parseKey(`${match[1]} ${match[2]}`);
  if (parsed instanceof Error) return `does not parse: ${parsed.message}`;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key.type !== match[1]) return 'key blob does not match its declared type';
  return null;
}
