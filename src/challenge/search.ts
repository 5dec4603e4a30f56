// One thread's search over a slice of the keyspace: password bytes are rewritten in place in
// the kernel's block (an odometer over the charset) and each candidate costs one compress().
import { createHash } from 'node:crypto';
import { createKernel, type Blake2bKernel } from './blake2b-wasm.js';
import { digitsAt } from './keyspace.js';

/** A task in the form a search thread receives it (structured-clone friendly). */
export interface SearchJob {
  /** The 64-byte target digest. */
  digest: Uint8Array;
  salt: Uint8Array;
  /** Each character of the charset as its UTF-8 bytes. */
  charset: Uint8Array[];
  length: number;
}

const BLOCK = 128;

export class RangeSearch {
  private readonly kernel: Blake2bKernel;
  private readonly digits: Int32Array;
  private readonly widest: number;
  private readonly uniform: boolean;

  constructor(private readonly job: SearchJob, kernel: Blake2bKernel = createKernel()) {
    this.kernel = kernel;
    this.digits = new Int32Array(job.length);
    const widths = job.charset.map((c) => c.length);
    this.widest = Math.max(...widths);
    this.uniform = widths.every((w) => w === this.widest);
    kernel.target.set(job.digest.subarray(0, 8));
  }

  /** Searches indices [from, to); returns the index of the answer, or -1. */
  run(from: number, to: number): number {
    if (from >= to) return -1;
    if (this.widest * this.job.length + this.job.salt.length > BLOCK) return this.runGeneral(from, to);
    return this.uniform ? this.runUniform(from, to) : this.runVariable(from, to);
  }

  // Every character has the same width: position p always sits at byte p × width.
  private runUniform(from: number, to: number): number {
    const { charset, salt, length } = this.job;
    const { block, compress } = this.kernel;
    const width = this.widest;
    const base = charset.length;
    const digits = digitsAt(from, base, length, this.digits);
    const size = width * length + salt.length;
    block.fill(0);
    block.set(salt, width * length);
    for (let p = 0; p < length; p++) block.set(charset[digits[p]!]!, p * width);
    const last = length - 1;
    if (width === 1) {
      const table = Uint8Array.from(charset, (c) => c[0]!);
      for (let i = from; i < to; i++) {
        if (compress(size) === 1 && this.digestMatches()) return i;
        for (let p = last; p >= 0; p--) {
          const d = digits[p]! + 1;
          if (d < base) { digits[p] = d; block[p] = table[d]!; break; }
          digits[p] = 0;
          block[p] = table[0]!;
        }
      }
      return -1;
    }
    for (let i = from; i < to; i++) {
      if (compress(size) === 1 && this.digestMatches()) return i;
      for (let p = last; p >= 0; p--) {
        const d = digits[p]! + 1;
        if (d < base) { digits[p] = d; block.set(charset[d]!, p * width); break; }
        digits[p] = 0;
        block.set(charset[0]!, p * width);
      }
    }
    return -1;
  }

  // Characters of different widths: the block is rewritten for each candidate (still in place).
  private runVariable(from: number, to: number): number {
    const { charset, salt, length } = this.job;
    const { block, compress } = this.kernel;
    const base = charset.length;
    const digits = digitsAt(from, base, length, this.digits);
    block.fill(0);
    let previous = 0;
    for (let i = from; i < to; i++) {
      let size = this.writeCandidate(block, digits);
      block.set(salt, size);
      size += salt.length;
      if (size < previous) block.fill(0, size, previous);
      previous = size;
      if (compress(size) === 1 && this.digestMatches()) return i;
      this.advance(base);
    }
    return -1;
  }

  /** Writes the candidate `digits` name at the start of `into`; returns its length in bytes. */
  private writeCandidate(into: Uint8Array, digits: Int32Array): number {
    const { charset, length } = this.job;
    let size = 0;
    for (let p = 0; p < length; p++) {
      const c = charset[digits[p]!]!;
      into.set(c, size);
      size += c.length;
    }
    return size;
  }

  // Candidates longer than one block: node's BLAKE2b, one allocation per candidate.
  private runGeneral(from: number, to: number): number {
    const { charset, salt, length, digest } = this.job;
    const base = charset.length;
    const digits = digitsAt(from, base, length, this.digits);
    const buffer = Buffer.alloc(this.widest * length);
    for (let i = from; i < to; i++) {
      const size = this.writeCandidate(buffer, digits);
      const got = createHash('blake2b512').update(buffer.subarray(0, size)).update(salt).digest();
      if (got.equals(digest)) return i;
      this.advance(base);
    }
    return -1;
  }

  private advance(base: number): void {
    const digits = this.digits;
    for (let p = digits.length - 1; p >= 0; p--) {
      const d = digits[p]! + 1;
      if (d < base) { digits[p] = d; return; }
      digits[p] = 0;
    }
  }

  private digestMatches(): boolean {
    const got = this.kernel.digest;
    const want = this.job.digest;
    for (let i = 0; i < 64; i++) if (got[i] !== want[i]) return false;
    return true;
  }
}
