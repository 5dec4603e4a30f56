// Decoded validator public keys, by SS58 address: decoding an address and building a
// verify key costs more than the signature check itself, so each hotkey pays it once.
import { verifyKeyOfAddress, type VerifyKey } from '../../protocol/index.js';
import { BoundedMap } from './lru.js';

export class PublicKeyCache {
  private readonly keys: BoundedMap<string, VerifyKey>;

  constructor(capacity: number) {
    this.keys = new BoundedMap(capacity);
  }

  /** The key of `address`, or null when the address is not a valid SS58 Ed25519 address. */
  get(address: string): VerifyKey | null {
    // First in, first out: a hot key that falls out is decoded again, which is all it costs.
    let key = this.keys.peek(address);
    if (key) return key;
    try {
      key = verifyKeyOfAddress(address);
    } catch {
      return null;
    }
    this.keys.set(address, key);
    return key;
  }
}
