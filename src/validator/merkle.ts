// The Merkle tree over per-block results that the probe commits to before the validator picks
// which blocks to open. Leaves and inner nodes are domain-separated (0x00 / 0x01) so a node can
// never pass as a leaf, and a leaf carries its index so results cannot be moved between places.
import { createHash } from 'node:crypto';

const sha256 = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export function leafHash(index: number, result: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = 0x00;
  head.writeUInt32LE(index, 1);
  return sha256(head, result);
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return sha256(Buffer.from([0x01]), left, right);
}

export const isPowerOfTwo = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;

/** Every level of the tree, leaves first; the number of results must be a power of two. */
export function merkleLevels(results: Buffer[]): Buffer[][] {
  if (!isPowerOfTwo(results.length)) throw new Error(`a Merkle tree needs a power-of-two number of leaves, not ${results.length}`);
  let level = results.map((r, i) => leafHash(i, r));
  const levels = [level];
  while (level.length > 1) {
    const up: Buffer[] = [];
    for (let k = 0; k < level.length; k += 2) up.push(nodeHash(level[k]!, level[k + 1]!));
    level = up;
    levels.push(level);
  }
  return levels;
}

/** The sibling hashes from leaf `index` up to (not including) the root. */
export function merklePath(levels: Buffer[][], index: number): Buffer[] {
  const path: Buffer[] = [];
  for (const level of levels.slice(0, -1)) {
    path.push(level[index ^ 1]!);
    index >>= 1;
  }
  return path;
}

/** Whether `result` at `index` of a tree of `leaves` leaves hashes up to `root` along `path`. */
export function verifyMerklePath(root: Buffer, leaves: number, index: number, result: Buffer, path: Buffer[]): boolean {
  if (!isPowerOfTwo(leaves) || index < 0 || index >= leaves || path.length !== Math.log2(leaves)) return false;
  let hash = leafHash(index, result);
  for (const sibling of path) {
    if (sibling.length !== 32) return false;
    hash = index & 1 ? nodeHash(sibling, hash) : nodeHash(hash, sibling);
    index >>= 1;
  }
  return hash.equals(root);
}
