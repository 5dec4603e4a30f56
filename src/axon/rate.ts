// Per-hotkey request rate: a token bucket per validator, refilled continuously.
import { BoundedMap } from './lru.js';

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets: BoundedMap<string, Bucket>;

  constructor(private readonly perSecond: number, private readonly burst: number, tableSize: number) {
    this.buckets = new BoundedMap(tableSize);
  }

  /** Takes one token for `hotkey`; false when its bucket is empty. */
  take(hotkey: string, now: number = performance.now()): boolean {
    let bucket = this.buckets.get(hotkey);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(hotkey, bucket);
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
