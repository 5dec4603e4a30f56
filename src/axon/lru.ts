// A Map bounded by entry count that forgets the least recently used entry first, so every
// per-hotkey table of the axon (keys, nonces, rate buckets) has a fixed memory ceiling.
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();

  /** `onEvict` sees each entry pushed out by the bound (not those deleted explicitly). */
  constructor(readonly capacity: number, private readonly onEvict?: (key: K, value: V) => void) {
    if (!(capacity >= 1)) throw new Error('capacity must be ≥ 1');
  }

  get size(): number {
    return this.entries.size;
  }

  /** Reads an entry and marks it as recently used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  /** Reads an entry without marking it as used (cheaper, for lookups that are followed by a set). */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as K;
      const evicted = this.entries.get(oldest) as V;
      this.entries.delete(oldest);
      this.onEvict?.(oldest, evicted);
    }
  }

  /** Forgets an entry (not an eviction: `onEvict` is not called). */
  delete(key: K): void {
    this.entries.delete(key);
  }
}
