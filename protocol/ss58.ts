// SS58 addresses of Ed25519 public keys with network prefix 42 (generic Substrate).
import { createHash } from 'node:crypto';
import bs58 from 'bs58';

export const SS58_PREFIX = 42;
const CONTEXT = Buffer.from('SS58PRE', 'utf8');

function checksum(payload: Uint8Array): Buffer {
  return createHash('blake2b512').update(CONTEXT).update(payload).digest().subarray(0, 2);
}

export function encodeSs58(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  const payload = Buffer.concat([Buffer.from([SS58_PREFIX]), publicKey]);
  return bs58.encode(Buffer.concat([payload, checksum(payload)]));
}

/** Returns the 32-byte public key, or throws with the reason the address is not valid. */
export function decodeSs58(address: string): Buffer {
  if (typeof address !== 'string' || address.length < 40 || address.length > 60) throw new Error('not an SS58 address');
  let raw: Uint8Array;
  try {
    raw = bs58.decode(address);
  } catch {
    throw new Error('not base58');
  }
  if (raw.length !== 35) throw new Error('wrong SS58 length for a 32-byte key');
  if (raw[0] !== SS58_PREFIX) throw new Error(`SS58 prefix ${raw[0]} is not ${SS58_PREFIX}`);
  const payload = raw.subarray(0, 33);
  const sum = checksum(payload);
  if (sum[0] !== raw[33] || sum[1] !== raw[34]) throw new Error('SS58 checksum mismatch');
  return Buffer.from(raw.subarray(1, 33));
}

export function isSs58(address: unknown): address is string {
  if (typeof address !== 'string') return false;
  try {
    decodeSs58(address);
    return true;
  } catch {
    return false;
  }
}
