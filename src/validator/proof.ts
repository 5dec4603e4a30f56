// The proof of hardware's rules on the validator's side: the workload it asks for, the indices
// it opens (drawn only after the commitment arrived), the check of each opening (recompute the
// block, walk its Merkle path to the committed root) and the time a commitment may take.
import { randomBytes, randomInt } from 'node:crypto';
import { isPowerOfTwo, merkleLevels, merklePath, verifyMerklePath } from './merkle.js';
import { blockParamsProblem, blockResult, type BlockParams } from './workload.js';

export type ProofKind = 'cpu' | 'gpu';

export interface ProofParams extends BlockParams {
  /** Blocks committed to (a power of two). */
  blocks: number;
  /** Blocks opened after the commitment. */
  openings: number;
}

/**
 * CPU proof: 64 blocks of 8 products of 32×32 matrices mod 65521. 20–40 ms a block in the
 * container's pure Python on one core here (1.3–2.5 s for all 64, with and without load); the validator
 * recomputes the 8 opened blocks in about 1.5 ms each (bench/RESULTS.md, validator-check).
 */
export const DEFAULT_CPU_PROOF: ProofParams = Object.freeze({ n: 32, p: 65521, rounds: 8, blocks: 64, openings: 8 });

/**
 * GPU proof: 256 blocks of 4 float32 products of 256×256 matrices mod 251 on CUDA (exact:
 * 256·250² < 2^24). Run only where the rental has a GPU; not timed here, where there is none.
 */
export const DEFAULT_GPU_PROOF: ProofParams = Object.freeze({ n: 256, p: 251, rounds: 4, blocks: 256, openings: 4 });

/**
 * Slowest acceptable speed: one block may take this long on one asked-for core (CPU) or one
 * GPU [0.4 s for the CPU proof: 10× this machine's 40 ms]. The commitment must arrive within
 * blocks × this / units + `DEFAULT_PROOF_GRACE_SECONDS`.
 */
export const DEFAULT_MAX_CPU_BLOCK_SECONDS = 0.4;
/** The same for a GPU block [0.5 s: generous for one 256×256 float32 product chain and its download]. */
export const DEFAULT_MAX_GPU_BLOCK_SECONDS = 0.5;
/** Slack on top of the commitment's time limit: the round trip and the process's start [2 s]. */
export const DEFAULT_PROOF_GRACE_SECONDS = 2;
/** Openings are ready once committed: they must arrive within this [5 s]. */
export const DEFAULT_OPENING_DEADLINE_SECONDS = 5;

/** Why these proof parameters cannot be used, or null. */
export function proofParamsProblem(p: ProofParams, kind: ProofKind): string | null {
  if (!isPowerOfTwo(p.blocks) || p.blocks < 2 || p.blocks > 65536) return 'blocks must be a power of two from 2 to 65536';
  if (!Number.isInteger(p.openings) || p.openings < 1 || p.openings > p.blocks) return 'openings must be a whole number from 1 to blocks';
  return blockParamsProblem(p, kind);
}

/** A fresh 32-byte seed: the workload cannot be computed before the validator sends it. */
export const newSeed = (): Buffer => randomBytes(32);

/** `count` distinct block indices from the CSPRNG, in increasing order; drawn after the commitment. */
export function chooseIndices(blocks: number, count: number, draw: (max: number) => number = randomInt): number[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, blocks)) chosen.add(draw(blocks));
  return [...chosen].sort((a, b) => a - b);
}

/** Seconds the commitment may take for `units` cores or GPUs. */
export function commitLimitSeconds(params: ProofParams, units: number, maxBlockSeconds: number, graceSeconds = DEFAULT_PROOF_GRACE_SECONDS): number {
  return (params.blocks * maxBlockSeconds) / Math.max(1, units) + graceSeconds;
}

export interface Opening {
  index: number;
  /** hex of the block's 32-byte result. */
  result: string;
  /** hex sibling hashes, leaf level first. */
  path: string[];
}

const HEX32 = /^[0-9a-f]{64}$/;

/** Checks the openings against the committed root; the first problem found, or null when every one holds. */
export function openingsProblem(seed: Buffer, params: ProofParams, rootHex: string, indices: number[], openings: unknown): string | null {
  if (!HEX32.test(rootHex)) return 'the commitment is not a 32-byte hex root';
  if (!Array.isArray(openings) || openings.length !== indices.length) return `expected ${indices.length} openings, got ${Array.isArray(openings) ? openings.length : 'none'}`;
  const root = Buffer.from(rootHex, 'hex');
  for (let k = 0; k < indices.length; k++) {
    const index = indices[k]!;
    const o = openings[k] as Partial<Opening> | null;
    if (!o || o.index !== index) return `opening ${k} is not for block ${index}`;
    if (typeof o.result !== 'string' || !HEX32.test(o.result)) return `block ${index}: the result is not 32 bytes of hex`;
    if (!Array.isArray(o.path) || !o.path.every((h) => typeof h === 'string' && HEX32.test(h))) return `block ${index}: the Merkle path is not a list of 32-byte hex hashes`;
    // Recomputed here: the miner's result is only compared, never trusted.
    const expected = blockResult(seed, index, params);
    if (!expected.equals(Buffer.from(o.result, 'hex'))) return `block ${index}: wrong result (the seeded workload gives ${expected.toString('hex').slice(0, 16)}…)`;
    if (!verifyMerklePath(root, params.blocks, index, expected, o.path.map((h) => Buffer.from(h, 'hex')))) {
      return `block ${index}: the Merkle path does not lead to the committed root`;
    }
  }
  return null;
}

/** An honest prover in-process (tests and the bench's cost ratio): every block, the root, and openings. */
export function proveLocally(seed: Buffer, params: ProofParams): { root: string; open(indices: number[]): Opening[] } {
  const results = Array.from({ length: params.blocks }, (_, i) => blockResult(seed, i, params));
  const levels = merkleLevels(results);
  return {
    root: levels.at(-1)![0]!.toString('hex'),
    open: (indices) => indices.map((index) => ({
      index, result: results[index]!.toString('hex'), path: merklePath(levels, index).map((h) => h.toString('hex')),
    })),
  };
}
