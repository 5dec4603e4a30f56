// New connections per address, checked before the WebSocket handshake: a displaced stranger
// that reconnects at once would otherwise turn the house into a churn of handshakes (each
// costs the axon far more than a refused request). An address whose connection has earned its
// place (probation.ts) is let in freely for a while; every other address gets a token bucket.
import { BoundedMap } from './lru.js';
import { RateLimiter } from './rate.js';

export interface ArrivalRules {
  /** New connections per second an address that has earned nothing may open (sustained). */
  newConnectionsPerSecond: number;
  /** The burst above that rate: what a fresh client opening a few connections at once needs. */
  newConnectionsBurst: number;
  /** How long an address stays let in freely after one of its connections earned its place. */
  earnedAddressMs: number;
  /** Addresses remembered (buckets and earned ones alike), least recently seen forgotten first. */
  tableSize: number;
}

export class Arrivals {
  private readonly buckets: RateLimiter;
  private readonly earned: BoundedMap<string, number>;

  constructor(private readonly rules: ArrivalRules) {
    this.buckets = new RateLimiter(rules.newConnectionsPerSecond, rules.newConnectionsBurst, rules.tableSize);
    this.earned = new BoundedMap(rules.tableSize);
  }

  /** Whether a new connection from `address` may go on to the handshake. */
  admit(address: string, now: number = performance.now()): boolean {
    const until = this.earned.peek(address);
    if (until !== undefined) {
      if (now < until) return true;
      this.earned.delete(address);
    }
    return this.buckets.take(address, now);
  }

  /** A connection from `address` had a request accepted. */
  earn(address: string, now: number = performance.now()): void {
    this.earned.set(address, now + this.rules.earnedAddressMs);
  }
}
