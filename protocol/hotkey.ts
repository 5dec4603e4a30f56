// Ed25519 hotkeys. tweetnacl derives key pairs from a seed (pure JS, the reference path);
// signing and verifying go through ./ed25519.ts (libsodium, or Node's built-in), hundreds of
// times faster on the hot path. Tests prove that signatures made by any of them verify with the others.
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { ed25519, signingKey, verifyKey, type SigningKey, type VerifyKey } from './ed25519.js';
import { decodeSs58, encodeSs58 } from './ss58.js';

export { verifyKey, type VerifyKey } from './ed25519.js';

export interface Hotkey {
  readonly seed: Buffer;
  readonly publicKey: Buffer;
  readonly ss58Address: string;
  readonly signingKey: SigningKey;
}

export function hotkeyFromSeed(seed: Uint8Array): Hotkey {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  const pair = nacl.sign.keyPair.fromSeed(seed);
  const publicKey = Buffer.from(pair.publicKey);
  return { seed: Buffer.from(seed), publicKey, ss58Address: encodeSs58(publicKey), signingKey: signingKey(Buffer.from(seed), publicKey) };
}

export function generateHotkey(): Hotkey {
  return hotkeyFromSeed(randomBytes(32));
}

/** The verify key of an SS58 address; throws when the address is not valid. */
export function verifyKeyOfAddress(address: string): VerifyKey {
  return verifyKey(decodeSs58(address));
}

export function sign(hotkey: Hotkey, message: Uint8Array): Buffer {
  return ed25519().sign(hotkey.signingKey, message);
}

export function verify(key: VerifyKey, message: Uint8Array, signature: Uint8Array): boolean {
  return ed25519().verify(key, message, signature);
}

/** The pure-JS path (tweetnacl), for platforms without Node's Ed25519 and for cross-checks. */
export const pureJs = {
  sign(seed: Uint8Array, message: Uint8Array): Buffer {
    return Buffer.from(nacl.sign.detached(message, nacl.sign.keyPair.fromSeed(seed).secretKey));
  },
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return signature.length === 64 && nacl.sign.detached.verify(message, signature, publicKey);
  },
};

// Key files use the field names of a Bittensor keyfile.
export interface KeyFile {
  secretSeed: string;
  publicKey: string;
  ss58Address: string;
}

export function toKeyFile(hotkey: Hotkey): KeyFile {
  return {
    secretSeed: `0x${hotkey.seed.toString('hex')}`,
    publicKey: `0x${hotkey.publicKey.toString('hex')}`,
    ss58Address: hotkey.ss58Address,
  };
}

/** Parses key-file JSON text; throws with a reason when it is not a consistent key file. */
export function fromKeyFile(text: string): Hotkey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('key file is not JSON');
  }
  const file = parsed as Partial<KeyFile>;
  if (typeof file?.secretSeed !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(file.secretSeed)) {
    throw new Error('key file: secretSeed must be 0x followed by 64 hex digits');
  }
  if (file.publicKey !== undefined && typeof file.publicKey !== 'string') throw new Error('key file: publicKey must be a string');
  if (file.ss58Address !== undefined && typeof file.ss58Address !== 'string') throw new Error('key file: ss58Address must be a string');
  const hotkey = hotkeyFromSeed(Buffer.from(file.secretSeed.slice(2), 'hex'));
  if (file.publicKey !== undefined && file.publicKey.toLowerCase() !== `0x${hotkey.publicKey.toString('hex')}`) {
    throw new Error('key file: publicKey does not belong to secretSeed');
  }
  if (file.ss58Address !== undefined && file.ss58Address !== hotkey.ss58Address) {
    throw new Error('key file: ss58Address does not belong to secretSeed');
  }
  return hotkey;
}
