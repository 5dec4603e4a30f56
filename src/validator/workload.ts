// The seeded block workload of the proof of hardware, on the validator's side: block `i` is
// `rounds` matrix products A ← A·B mod p of two n×n matrices drawn from the seed. The probe
// program computes the same bytes in the rental (pure Python on CPU, PyTorch on CUDA); the
// validator recomputes only the blocks it opens.
import { createHash } from 'node:crypto';

export interface BlockParams {
  /** Matrix size n (n×n). */
  n: number;
  /** Entries are taken mod p. */
  p: number;
  /** Products per block. */
  rounds: number;
}

/** float32 holds every integer below 2^24: a GPU block is exact when n·(p−1)² stays under it. */
export const FLOAT32_EXACT = 2 ** 24;

/** Why these parameters cannot be recomputed exactly (here in doubles, or on a GPU in float32), or null. */
export function blockParamsProblem(b: BlockParams, kind: 'cpu' | 'gpu'): string | null {
  if (!Number.isInteger(b.n) || b.n < 2 || b.n > 1024) return 'n must be a whole number from 2 to 1024';
  if (!Number.isInteger(b.p) || b.p < 2 || b.p > 65536) return 'p must be a whole number from 2 to 65536';
  if (!Number.isInteger(b.rounds) || b.rounds < 1 || b.rounds > 1000) return 'rounds must be a whole number from 1 to 1000';
  if (kind === 'gpu' && b.n * (b.p - 1) ** 2 >= FLOAT32_EXACT) return `n·(p−1)² must stay under 2^24 for exact float32 products, is ${b.n * (b.p - 1) ** 2}`;
  return null;
}

/** The n×n matrix `tag` of block `index`: SHAKE-128(seed ‖ tag ‖ u32le(index)), 16-bit little-endian entries mod p. */
export function seededMatrix(seed: Buffer, tag: 'A' | 'B', index: number, n: number, p: number): Float64Array {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(index);
  const raw = createHash('shake128', { outputLength: 2 * n * n }).update(seed).update(tag).update(head).digest();
  const m = new Float64Array(n * n);
  for (let k = 0; k < n * n; k++) m[k] = raw.readUInt16LE(2 * k) % p;
  return m;
}

/** sha256 over the rows, each entry as u32 little-endian. */
function digestMatrix(m: Float64Array): Buffer {
  const bytes = Buffer.alloc(m.length * 4);
  for (let k = 0; k < m.length; k++) bytes.writeUInt32LE(m[k]!, 4 * k);
  return createHash('sha256').update(bytes).digest();
}

/** The 32-byte result of block `index`. Exact in doubles: n·(p−1)² < 2^53 for every accepted n and p. */
export function blockResult(seed: Buffer, index: number, b: BlockParams): Buffer {
  const { n, p } = b;
  let a: Float64Array = seededMatrix(seed, 'A', index, n, p);
  const m = seededMatrix(seed, 'B', index, n, p);
  let next: Float64Array = new Float64Array(n * n);
  const row = new Float64Array(n);
  for (let round = 0; round < b.rounds; round++) {
    for (let r = 0; r < n; r++) {
      row.fill(0);
      for (let k = 0; k < n; k++) {
        const x = a[r * n + k]!;
        if (x === 0) continue;
        const base = k * n;
        for (let c = 0; c < n; c++) row[c]! += x * m[base + c]!;
      }
      for (let c = 0; c < n; c++) next[r * n + c] = row[c]! % p;
    }
    [a, next] = [next, a];
  }
  return digestMatrix(a);
}
