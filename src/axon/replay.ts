// Replay protection: a request's nonce must be strictly greater than the last nonce accepted
// for the same (dendrite hotkey, uuid), and inside [now − (skew + timeout), now + skew].
// Memory is bounded: the least recently used pairs are forgotten, and the highest nonce ever
// forgotten becomes a floor that every unknown pair must exceed, so forgetting a pair can
// never make one of its old requests acceptable again.
import { BoundedMap } from './lru.js';

/** Clock difference tolerated between validator and miner, seconds (PROTOCOL.md: 4 s). */
export const NONCE_SKEW_SECONDS = 4;

export class ReplayGuard {
  private readonly lastNonce: BoundedMap<string, number>;
  private floor = 0;

  constructor(capacity: number) {
    this.lastNonce = new BoundedMap(capacity, (_key, nonce) => {
      if (nonce > this.floor) this.floor = nonce;
    });
  }

  /** Why the nonce is refused, or null. Changes nothing: call `accept` once the request is let in. */
  check(hotkey: string, uuid: string, nonce: number, timeoutSeconds: number, nowMs: number = Date.now()): string | null {
    const nowMicros = nowMs * 1000;
    if (nonce > nowMicros + NONCE_SKEW_SECONDS * 1e6) return 'nonce is in the future';
    if (nonce < nowMicros - (NONCE_SKEW_SECONDS + timeoutSeconds) * 1e6) return 'nonce is stale';
    const last = this.lastNonce.peek(key(hotkey, uuid)) ?? this.floor;
    if (nonce <= last) return 'nonce was already used';
    return null;
  }

  accept(hotkey: string, uuid: string, nonce: number): void {
    const k = key(hotkey, uuid);
    const last = this.lastNonce.peek(k);
    if (last === undefined || nonce > last) this.lastNonce.set(k, nonce); // set marks the pair as used
  }
}

// An SS58 address never contains a space, so the pair cannot collide.
function key(hotkey: string, uuid: string): string {
  return `${hotkey} ${uuid}`;
}
