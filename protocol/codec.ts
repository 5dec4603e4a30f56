// Standard MessagePack, readable by any implementation: no records, no extensions.
// msgpackr writes a JavaScript number ≥ 2^32 as float64 unless it is a BigInt, so every
// integer outside the 32-bit range is turned into a BigInt before packing.
import { Packr, Unpackr } from 'msgpackr';

const packr = new Packr({ useRecords: false, variableMapSize: true, moreTypes: false, useTimestamp32: false });
// 'auto' yields a number up to 2^53 and a BigInt above, which the schemas then refuse.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'number' });

const MAX_UINT32 = 0xffff_ffff;
const MIN_INT32 = -0x8000_0000;

function widenIntegers(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isInteger(value) && (value > MAX_UINT32 || value < MIN_INT32) ? BigInt(value) : value;
  }
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(widenIntegers);
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner !== undefined) out[key] = widenIntegers(inner);
  }
  return out;
}

/** Encodes a value as standard MessagePack; `undefined` fields are left out. */
export function encode(value: unknown): Buffer {
  return packr.pack(widenIntegers(value));
}

/** Decodes one MessagePack value; throws on malformed or trailing bytes. */
export function decode(bytes: Uint8Array): unknown {
  const values = unpackr.unpackMultiple(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as unknown[];
  if (values.length !== 1) throw new Error(`expected one MessagePack value, found ${values.length}`);
  return values[0];
}
