// BLAKE2b-512 of one 128-byte block (a challenge candidate: password ‖ salt) as a WebAssembly
// function with native 64-bit adds and rotates; JavaScript's int32-pair arithmetic only
// reaches about the speed of createHash. The module is emitted here, byte by byte, with every
// round written out and the 32 state and message words held in locals; a search rewrites the
// password bytes in the block and calls compress() again, allocating nothing per candidate.
//
// Memory (one page): [0, 128) the block, [128, 192) the digest, [192, 200) the target's first
// word. `compress(length)` hashes the block as a whole message of `length` bytes, writes the
// digest and returns 1 when its first 8 bytes equal the target's.

/** Byte offsets in the kernel's memory. */
export const KERNEL_LAYOUT = { block: 0, digest: 128, target: 192 } as const;

export interface Blake2bKernel {
  /** View of the block (128 bytes); bytes past the message length must stay zero. */
  readonly block: Uint8Array;
  /** View of the digest written by the last compress() (64 bytes). */
  readonly digest: Uint8Array;
  /** View of the first 8 bytes of the target digest. */
  readonly target: Uint8Array;
  compress(length: number): number;
}

const IV = [
  0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n,
];
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];
const G_ORDER = [[0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15], [0, 5, 10, 15], [1, 6, 11, 12], [2, 7, 8, 13], [3, 4, 9, 14]];

// Opcodes used.
const OP = {
  end: 0x0b, localGet: 0x20, localSet: 0x21, i32Const: 0x41, i64Const: 0x42,
  i64Load: 0x29, i64Store: 0x37, i64Eq: 0x51, i64Add: 0x7c, i64Xor: 0x85, i64Rotr: 0x8a, i64ExtendI32U: 0xad,
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb64(value: bigint): number[] {
  let n = BigInt.asIntN(64, value);
  const out: number[] = [];
  for (;;) {
    const byte = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && (byte & 0x40) === 0) || (n === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

/** The body of compress(length: i32) → i32. Local 0 is `length`, 1–16 are v0–v15, 17–32 are m0–m15. */
function compressBody(): number[] {
  const code: number[] = [];
  const get = (i: number) => code.push(OP.localGet, ...uleb(i));
  const set = (i: number) => code.push(OP.localSet, ...uleb(i));
  const v = (i: number) => 1 + i;
  const m = (i: number) => 17 + i;
  const i64 = (x: bigint) => code.push(OP.i64Const, ...sleb64(x));
  const addTo = (a: number, b: number, x?: number) => {
    get(v(a)); get(v(b)); code.push(OP.i64Add);
    if (x !== undefined) { get(m(x)); code.push(OP.i64Add); }
    set(v(a));
  };
  const xorRotr = (d: number, a: number, bits: number) => {
    get(v(d)); get(v(a)); code.push(OP.i64Xor); i64(BigInt(bits)); code.push(OP.i64Rotr); set(v(d));
  };

  for (let i = 0; i < 16; i++) { code.push(OP.i32Const, 0, OP.i64Load, 3, ...uleb(8 * i)); set(m(i)); }
  const h0 = IV[0]! ^ 0x01010040n;
  for (let i = 0; i < 8; i++) { i64(i === 0 ? h0 : IV[i]!); set(v(i)); }
  for (let i = 0; i < 8; i++) {
    i64(IV[i]!);
    if (i === 4) { get(0); code.push(OP.i64ExtendI32U, OP.i64Xor); } // t0 = the byte count
    if (i === 6) { i64(-1n); code.push(OP.i64Xor); } // f0: this is the last block
    set(v(8 + i));
  }
  for (let r = 0; r < 12; r++) {
    const s = SIGMA[r % 10]!;
    G_ORDER.forEach(([a, b, c, d], i) => {
      addTo(a!, b!, s[2 * i]!); xorRotr(d!, a!, 32);
      addTo(c!, d!); xorRotr(b!, c!, 24);
      addTo(a!, b!, s[2 * i + 1]!); xorRotr(d!, a!, 16);
      addTo(c!, d!); xorRotr(b!, c!, 63);
    });
  }
  for (let i = 0; i < 8; i++) {
    code.push(OP.i32Const, 0);
    i64(i === 0 ? h0 : IV[i]!); get(v(i)); code.push(OP.i64Xor); get(v(i + 8)); code.push(OP.i64Xor);
    code.push(OP.i64Store, 3, ...uleb(KERNEL_LAYOUT.digest + 8 * i));
  }
  code.push(OP.i32Const, 0, OP.i64Load, 3, ...uleb(KERNEL_LAYOUT.digest));
  code.push(OP.i32Const, 0, OP.i64Load, 3, ...uleb(KERNEL_LAYOUT.target));
  code.push(OP.i64Eq, OP.end);
  const locals = vector([[32, 0x7e]]); // 32 locals of type i64
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/** The kernel's WebAssembly binary. */
export function kernelModuleBytes(): Uint8Array<ArrayBuffer> {
  const i32 = 0x7f;
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([[0x60, 1, i32, 1, i32]])), // type 0: (i32) → i32
    ...section(3, vector([[0]])), // function 0 has type 0
    ...section(5, vector([[0x00, 1]])), // one memory, min 1 page
    ...section(7, vector([[...name('memory'), 0x02, 0], [...name('compress'), 0x00, 0]])),
    ...section(10, vector([compressBody()])),
  ];
  return new Uint8Array(bytes);
}

let compiled: WebAssembly.Module | undefined;

/** A fresh kernel instance (its own memory); compiles the module once per thread. */
export function createKernel(): Blake2bKernel {
  compiled ??= new WebAssembly.Module(kernelModuleBytes());
  const instance = new WebAssembly.Instance(compiled, {});
  const memory = instance.exports.memory as WebAssembly.Memory;
  const compress = instance.exports.compress as (length: number) => number;
  return {
    block: new Uint8Array(memory.buffer, KERNEL_LAYOUT.block, 128),
    digest: new Uint8Array(memory.buffer, KERNEL_LAYOUT.digest, 64),
    target: new Uint8Array(memory.buffer, KERNEL_LAYOUT.target, 8),
    compress,
  };
}
