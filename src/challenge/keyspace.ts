// The keyspace of a challenge: charset^length candidates, numbered so that the last character
// turns fastest. Indices are plain numbers; a keyspace beyond 2^53 is searched up to 2^53,
// which no deadline reaches anyway.

/** The largest index a search walks to. */
export const MAX_INDEX = Number.MAX_SAFE_INTEGER;

/** Number of candidates (capped at MAX_INDEX). */
export function keyspaceSize(charsetSize: number, length: number): number {
  return Math.min(MAX_INDEX, charsetSize ** length);
}

/** The candidate at `index`, as per-position digits (most significant first). */
export function digitsAt(index: number, base: number, length: number, into: Int32Array = new Int32Array(length)): Int32Array {
  for (let p = length - 1; p >= 0; p--) {
    const q = Math.floor(index / base);
    into[p] = index - q * base;
    index = q;
  }
  return into;
}

/** The candidate at `index` as a string. */
export function passwordAt(charset: readonly string[], length: number, index: number): string {
  return Array.from(digitsAt(index, charset.length, length), (d) => charset[d]!).join('');
}
