// The root password goes into a container only as its SHA-512-crypt hash (for /etc/shadow):
// the clear password never enters the container, its processes or its logs. SHA-crypt ($6$, Drepper's specification, as glibc and libxcrypt
// verify it) is written here on node:crypto; the npm packages for it pull test frameworks
// in as runtime dependencies. Proven against `openssl passwd -6` in the tests.
import { createHash, randomInt } from 'node:crypto';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const SHA_CRYPT_DEFAULT_ROUNDS = 5000;

const sha512 = (...parts: Buffer[]) => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** `len` bytes of `digest` repeated (the "P"/"S" sequences of the specification). */
function repeatTo(digest: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += digest.length) digest.copy(out, i, 0, Math.min(digest.length, len - i));
  return out;
}

/** `$6$salt$hash` of `password` with the default 5000 rounds (no rounds= field then). */
export function sha512Crypt(password: string, salt: string, rounds = SHA_CRYPT_DEFAULT_ROUNDS): string {
  if (!/^[./0-9A-Za-z]{1,16}$/.test(salt)) throw new RangeError('salt: 1–16 characters of [./0-9A-Za-z]');
  const p = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt, 'ascii');
  const b = sha512(p, s, p);
  const a = createHash('sha512').update(p).update(s).update(repeatTo(b, p.length));
  for (let n = p.length; n > 0; n >>= 1) a.update(n & 1 ? b : p);
  let digest = a.digest();
  const dp = repeatTo(sha512(...Array(p.length).fill(p)), p.length);
  const ds = repeatTo(sha512(...Array(16 + digest[0]!).fill(s)), s.length);
  for (let i = 0; i < rounds; i++) {
    const c = createHash('sha512');
    c.update(i & 1 ? dp : digest);
    if (i % 3) c.update(ds);
    if (i % 7) c.update(dp);
    c.update(i & 1 ? digest : dp);
    digest = c.digest();
  }
  // The specification's byte order for the final base-64 encoding.
  const order = [
    [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48], [28, 49, 7], [50, 8, 29],
    [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13], [56, 14, 35], [15, 36, 57], [37, 58, 16],
    [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
  ];
  let encoded = '';
  const put = (value: number, chars: number) => {
    for (let i = 0; i < chars; i++, value >>= 6) encoded += ITOA64[value & 0x3f];
  };
  for (const [x, y, z] of order) put((digest[x!]! << 16) | (digest[y!]! << 8) | digest[z!]!, 4);
  put(digest[63]!, 2);
  const prefix = rounds === SHA_CRYPT_DEFAULT_ROUNDS ? `$6$${salt}$` : `$6$rounds=${rounds}$${salt}$`;
  return prefix + encoded;
}

export function randomSalt(length = 16): string {
  let salt = '';
  for (let i = 0; i < length; i++) salt += ITOA64[randomInt(64)];
  return salt;
}
