// Ed25519 signing and verification for the hot path. Two byte-compatible implementations
// (Ed25519 signatures are deterministic, so both make identical bytes; tests hold them to it):
// libsodium through `sodium-native`, about twice as fast as Node's built-in here on verify
// (bench/axon prints both), and Node's built-in OpenSSL, used when the addon cannot load on
// this platform or when the process asks for it (COMPUTE_MINER_ED25519=node, read by the CLI).
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

/** The signing half of a key pair, in the forms both implementations take. */
export interface SigningKey {
  /** libsodium's 64-byte secret key: seed ‖ public key. */
  readonly secretKey: Buffer;
  readonly keyObject: KeyObject;
}

/** A public key ready to verify with: the raw 32 bytes, and Node's key object made on first use. */
export interface VerifyKey {
  readonly raw: Buffer;
  readonly keyObject: KeyObject;
}

export interface Ed25519 {
  readonly name: 'libsodium' | 'node';
  sign(key: SigningKey, message: Uint8Array): Buffer;
  /** False, never a throw, for a signature that is not 64 bytes or does not verify. */
  verify(key: VerifyKey, message: Uint8Array, signature: Uint8Array): boolean;
}

// DER prefixes that wrap a raw Ed25519 seed (PKCS#8) or public key (SPKI) for Node's KeyObject.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function signingKey(seed: Buffer, publicKey: Buffer): SigningKey {
  return {
    secretKey: Buffer.concat([seed, publicKey]),
    keyObject: createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }),
  };
}

// Building Node's key object costs more than a libsodium verify, and only Node's
// implementation needs it: a validator's key seen for the first time must not pay for it.
class RawVerifyKey implements VerifyKey {
  private object: KeyObject | undefined;

  constructor(readonly raw: Buffer) {}

  get keyObject(): KeyObject {
    return (this.object ??= createPublicKey({ key: Buffer.concat([SPKI_PREFIX, this.raw]), format: 'der', type: 'spki' }));
  }
}

export function verifyKey(publicKey: Uint8Array): VerifyKey {
  if (publicKey.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  return new RawVerifyKey(Buffer.from(publicKey));
}

export const nodeEd25519: Ed25519 = {
  name: 'node',
  sign: (key, message) => nodeSign(null, message, key.keyObject),
  verify(key, message, signature) {
    if (signature.length !== 64) return false;
    try {
      return nodeVerify(null, message, key.keyObject, signature);
    } catch {
      return false;
    }
  },
};

interface Sodium {
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

function libsodium(sodium: Sodium): Ed25519 {
  return {
    name: 'libsodium',
    sign(key, message) {
      const signature = Buffer.allocUnsafe(64);
      sodium.crypto_sign_detached(signature, message, key.secretKey);
      return signature;
    },
    verify: (key, message, signature) => signature.length === 64 && sodium.crypto_sign_verify_detached(signature, message, key.raw),
  };
}

function loadLibsodium(): Ed25519 | null {
  try {
    return libsodium(createRequire(import.meta.url)('sodium-native') as Sodium);
  } catch {
    return null;
  }
}

/** libsodium's implementation, or null where its addon does not load. */
export const sodiumEd25519: Ed25519 | null = loadLibsodium();

let active: Ed25519 = sodiumEd25519 ?? nodeEd25519;

/** The implementation called `name`; throws with the reason when there is none such here. */
export function ed25519Named(name: string): Ed25519 {
  if (name === 'node') return nodeEd25519;
  if (name !== 'libsodium') throw new Error(`unknown Ed25519 implementation ${JSON.stringify(name)} (libsodium or node)`);
  if (!sodiumEd25519) throw new Error('libsodium (the sodium-native addon) does not load on this platform; use node');
  return sodiumEd25519;
}

/** The implementation this process signs and verifies with. */
export function ed25519(): Ed25519 {
  return active;
}

/** Switches the implementation for the whole process (benchmarks compare the two in one run). */
export function useEd25519(implementation: Ed25519): void {
  active = implementation;
}
