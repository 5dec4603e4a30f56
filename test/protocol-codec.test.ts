// The envelope codec: standard MessagePack that a second implementation (Python's msgpack) reads
// and writes identically, with integers kept as integers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, encode, parseWith, requestEnvelopeSchema, specsOutputSchema, uint } from '../protocol/index.js';
import { pythonDecode, pythonEncode } from './helpers/python.js';

const NONCE = 1764331200123456; // a microsecond nonce, far above 2^32

test('round trip of maps, arrays, strings, booleans, null, floats and integers of every width', () => {
  const value = {
    small: 7, negative: -33, u8: 200, u16: 60_000, u32: 4_000_000_000, big: NONCE, bigNegative: -NONCE,
    maxSafe: Number.MAX_SAFE_INTEGER, float: 0.25, text: 'héllo ✓', empty: '', yes: true, no: false, nothing: null,
    list: [1, 'two', [3]], nested: { deeper: { deepest: 'x' } },
  };
  assert.equal(decode(encode(value)), value);
});

test('an integer ≥ 2^32 is written as a 64-bit MessagePack integer, never a float', () => {
  const bytes = encode(NONCE);
  assert.ok(bytes[0] === 0xcf || bytes[0] === 0xd3, `type byte 0x${bytes[0]!.toString(16)}`);
  assert.is(bytes.length, 9);
  assert.is(bytes.readBigUInt64BE(1), BigInt(NONCE));
  const negative = encode(-NONCE);
  assert.is(negative[0], 0xd3);
  assert.is(negative.readBigInt64BE(1), BigInt(-NONCE));
  // 2^32 exactly is the first value that msgpackr would otherwise write as float64.
  const boundary = encode(2 ** 32);
  assert.ok(boundary[0] === 0xcf || boundary[0] === 0xd3);
  assert.is(encode(2 ** 32 - 1)[0], 0xce);
});

test('Python msgpack reads our 64-bit integers as integers with the same value', async () => {
  const decoded = await pythonDecode(encode({ nonce: NONCE, negative: -NONCE, max: Number.MAX_SAFE_INTEGER, small: 5, float: 1.5 }));
  assert.equal(decoded, {
    nonce: { int: String(NONCE) },
    negative: { int: String(-NONCE) },
    max: { int: String(Number.MAX_SAFE_INTEGER) },
    small: { int: '5' },
    float: { float: '1.5' },
  });
});

test('Python msgpack reads our bin as bytes and our strings as str', async () => {
  const decoded = await pythonDecode(encode({ body: new Uint8Array([0, 1, 254, 255]), buf: Buffer.from('abc'), name: 'Specs' }));
  assert.equal(decoded, { body: { bin: '0001feff' }, buf: { bin: '616263' }, name: 'Specs' });
});

test('what Python msgpack writes, we read: 64-bit integers as numbers, bin as Uint8Array', async () => {
  const bytes = await pythonEncode(`{"nonce": ${NONCE}, "neg": -${NONCE}, "body": b"\\x00\\x01\\xff", "s": "ok", "f": 2.5, "l": [1, None, True]}`);
  // Python writes a positive 64-bit value as uint64.
  const nonceAt = bytes.indexOf(Buffer.from('nonce'));
  assert.is(bytes[nonceAt + 5], 0xcf);
  const value = decode(bytes) as Record<string, unknown>;
  assert.is(value.nonce, NONCE);
  assert.is(typeof value.nonce, 'number');
  assert.is(value.neg, -NONCE);
  assert.ok(value.body instanceof Uint8Array);
  assert.equal([...(value.body as Uint8Array)], [0, 1, 255]);
  assert.is(value.s, 'ok');
  assert.is(value.f, 2.5);
  assert.equal(value.l, [1, null, true]);
});

test('our encoding and Python\'s agree byte for byte on a request-shaped map', async () => {
  const ours = encode({ v: 1, id: 3, name: 'Specs', timeout: 12.5, body: new Uint8Array([0x80]), dendrite: { nonce: NONCE } });
  const theirs = await pythonEncode(`{"v": 1, "id": 3, "name": "Specs", "timeout": 12.5, "body": b"\\x80", "dendrite": {"nonce": ${NONCE}}}`);
  // Python prefers uint64 (0xcf) for positive values, msgpackr int64 (0xd3): both standard; the rest is identical.
  const normalise = (b: Buffer) => b.toString('hex').replace('d3000644a65e731240', 'cf000644a65e731240');
  assert.is(normalise(ours), normalise(theirs));
});

test('bin decodes to a Uint8Array and a Uint8Array encodes to bin (0xc4)', () => {
  const bytes = encode(new Uint8Array([9, 8, 7]));
  assert.is(bytes.toString('hex'), 'c403090807');
  const back = decode(bytes);
  assert.ok(back instanceof Uint8Array);
  assert.equal([...(back as Uint8Array)], [9, 8, 7]);
  // decode accepts a Uint8Array view into a larger buffer, not only a Buffer
  const framed = new Uint8Array([0xff, 0xc4, 0x01, 0x2a, 0xff]).subarray(1, 4);
  assert.equal([...(decode(framed) as Uint8Array)], [42]);
});

test('undefined fields are left out and maps use the smallest header', () => {
  assert.is(encode({ a: undefined, b: 1 }).toString('hex'), '81a16201');
  const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i]));
  assert.is(encode(sixteen)[0], 0xde); // map16 from 16 entries on, fixmap below
  assert.is(encode({})[0], 0x80);
});

test('trailing bytes after one value are rejected', () => {
  const one = encode({ id: 1 });
  assert.throws(() => decode(Buffer.concat([one, Buffer.from([0xc0])])), /one MessagePack value/);
  assert.throws(() => decode(Buffer.concat([one, one])), /one MessagePack value/);
});

test('truncated, empty and malformed input throws instead of returning a value', () => {
  const full = encode({ id: 1, name: 'Specs', body: new Uint8Array(8) });
  for (let cut = 0; cut < full.length; cut++) {
    assert.throws(() => decode(full.subarray(0, cut)), undefined, `cut at ${cut}`);
  }
  assert.throws(() => decode(Buffer.from('dbffffffff', 'hex'))); // str32 claiming 4 GiB
  assert.throws(() => decode(Buffer.from('ddffffffff', 'hex'))); // array32 claiming 4 G entries
  assert.throws(() => decode(Buffer.from('d40100', 'hex'))); // an extension type
});

test('a __proto__ key does not pollute prototypes', () => {
  // {"__proto__": {"polluted": 1}} written by hand, as an attacker would
  const evil = Buffer.from('81a95f5f70726f746f5f5f81a8706f6c6c7574656401', 'hex');
  const value = decode(evil) as Record<string, unknown>;
  assert.is(Object.getPrototypeOf(value), Object.prototype);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
  assert.is((value as { polluted?: unknown }).polluted, undefined);
  assert.is((Object.prototype as Record<string, unknown>).polluted, undefined);
  // the nested constructor.prototype route too
  const evil2 = encode({ constructor: { prototype: { polluted: 2 } } });
  decode(evil2);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

test('an integer above 2^53 decodes as a BigInt that the schemas refuse', () => {
  const tooBig = Buffer.from('cf0020000000000001', 'hex'); // 2^53 + 1
  const value = decode(tooBig);
  assert.is(typeof value, 'bigint');
  assert.is(value, 2n ** 53n + 1n);
  const schema = parseWith(uint(), value);
  assert.not.ok(schema.ok);
  // inside an envelope, the path names the field
  const envelope = decode(Buffer.concat([Buffer.from('82a26964', 'hex'), tooBig, Buffer.from('a176', 'hex'), Buffer.from([1])]));
  const parsed = parseWith(requestEnvelopeSchema.pick({ id: true, v: true }), envelope);
  assert.not.ok(parsed.ok);
  if (!parsed.ok) assert.match(parsed.message, /^id: must be an integer/);
  // and a byte count in a Specs reply
  const spec = parseWith(specsOutputSchema.shape.ram, { total: 2n ** 53n + 1n, available: 0, used: 0, free: 0 });
  assert.not.ok(spec.ok);
  if (!spec.ok) assert.match(spec.message, /^total: /);
  // 2^53 − 1 is the largest accepted
  assert.ok(parseWith(uint(), decode(encode(Number.MAX_SAFE_INTEGER))).ok);
});

test.run();
