// The renter's side of Allocate credentials: an RSA key pair whose public half goes in the
// request, and the decryption of the reply's `info` (see protocol/credentials.ts).
import { constants, generateKeyPair, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { promisify } from 'node:util';
import type { AllocateCredentials } from '../../protocol/index.js';

export const DEFAULT_RENTER_KEY_BITS = 2048;

export interface RenterKeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

const keyOptions = (bits: number) => ({
  modulusLength: bits,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
}) as const;

export function generateRenterKeyPair(bits: number = DEFAULT_RENTER_KEY_BITS): RenterKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', keyOptions(bits));
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

const generateRsa = promisify(generateKeyPair);

/** The same, off the event loop: generating an RSA key takes long enough (tenths of a second) that other work should go on meanwhile. */
export async function generateRenterKeyPairAsync(bits: number = DEFAULT_RENTER_KEY_BITS): Promise<RenterKeyPair> {
  const { publicKey, privateKey } = await generateRsa('rsa', keyOptions(bits));
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** Decrypts `info` (RSA-OAEP, SHA-256 for OAEP and MGF1, no label); throws when it is not valid credentials. */
export function decryptAllocationInfo(info: string, privateKeyPem: string): AllocateCredentials {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(info)) throw new Error('info is not base64');
  let plaintext: Buffer;
  try {
    // OpenSSL uses the OAEP hash for MGF1 too unless told otherwise.
    plaintext = privateDecrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(info, 'base64'));
  } catch {
    throw new Error('info does not decrypt with this private key');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new Error('decrypted info is not JSON');
  }
  const c = parsed as Partial<AllocateCredentials>;
  if (c?.username !== 'root') throw new Error('credentials: username must be "root"');
  if (typeof c.password !== 'string' || c.password === '') throw new Error('credentials: password must be a non-empty string');
  if (!Number.isInteger(c.port) || c.port! < 1 || c.port! > 65535) throw new Error('credentials: port must be 1–65535');
  if (!Number.isInteger(c.version)) throw new Error('credentials: version must be an integer');
  return { username: 'root', password: c.password, port: c.port!, version: c.version! };
}
