// Identities and signatures: SS58 addresses, hotkeys (Node's Ed25519, tweetnacl and libsodium,
// in this process and in Python, agreeing), key files, and the exact strings requests and replies are signed over.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import bs58 from 'bs58';
import {
  decodeSs58, ed25519, ed25519Named, encodeSs58, fromKeyFile, nodeEd25519, sodiumEd25519, generateHotkey, hotkeyFromSeed, isSs58, nextNonce, verifyKey,
  verifyKeyOfAddress, pureJs, replySigningMessage, requestSigningMessage, sha256Hex, sign, toKeyFile, verify,
} from '../protocol/index.js';
import { pythonPublicKey, pythonSignMany, pythonVerifyMany } from './helpers/python.js';

const KNOWN_KEY = 'd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d';
const KNOWN_ADDRESS = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';

test('SS58: the known public key and address map to each other', () => {
  assert.is(encodeSs58(Buffer.from(KNOWN_KEY, 'hex')), KNOWN_ADDRESS);
  assert.is(decodeSs58(KNOWN_ADDRESS).toString('hex'), KNOWN_KEY);
  assert.ok(isSs58(KNOWN_ADDRESS));
});

test('SS58: random keys round trip and every address starts with 5', () => {
  for (let i = 0; i < 50; i++) {
    const key = randomBytes(32);
    const address = encodeSs58(key);
    assert.is(address[0], '5');
    assert.equal(decodeSs58(address), key);
  }
});

test('SS58: a bad checksum, prefix, length or alphabet is refused with the reason', () => {
  const raw = Buffer.from(bs58.decode(KNOWN_ADDRESS));
  const flippedChecksum = Buffer.from(raw);
  flippedChecksum[34] ^= 1;
  assert.throws(() => decodeSs58(bs58.encode(flippedChecksum)), /checksum/);
  const flippedKey = Buffer.from(raw);
  flippedKey[5] ^= 1;
  assert.throws(() => decodeSs58(bs58.encode(flippedKey)), /checksum/);
  const otherPrefix = Buffer.from(raw);
  otherPrefix[0] = 0; // Polkadot's prefix
  assert.throws(() => decodeSs58(bs58.encode(otherPrefix)), /prefix 0/);
  assert.throws(() => decodeSs58(bs58.encode(raw.subarray(0, 34))), /length/);
  assert.throws(() => decodeSs58(bs58.encode(Buffer.concat([raw, Buffer.from([0])]))), /length/);
  assert.throws(() => decodeSs58(KNOWN_ADDRESS.slice(0, 20)), /not an SS58 address/);
  assert.throws(() => decodeSs58(`${KNOWN_ADDRESS.slice(0, -1)}0`), /base58/); // 0 is not in the alphabet
  assert.throws(() => decodeSs58(123 as unknown as string), /not an SS58 address/);
  assert.not.ok(isSs58(bs58.encode(flippedChecksum)));
  assert.not.ok(isSs58(null));
  assert.throws(() => encodeSs58(Buffer.alloc(31)), /32 bytes/);
});

test('hotkey: the key pair from a seed matches libsodium (python3-nacl)', async () => {
  const seed = randomBytes(32);
  const hotkey = hotkeyFromSeed(seed);
  assert.equal(hotkey.publicKey, await pythonPublicKey(seed));
  assert.is(hotkey.ss58Address, encodeSs58(hotkey.publicKey));
  assert.throws(() => hotkeyFromSeed(Buffer.alloc(31)), /32 bytes/);
});

test('hotkey: Node signatures verify with tweetnacl and tweetnacl signatures verify with Node', () => {
  for (let i = 0; i < 40; i++) {
    const hotkey = generateHotkey();
    const message = randomBytes(i * 7);
    const nodeSignature = sign(hotkey, message);
    const naclSignature = pureJs.sign(hotkey.seed, message);
    // Ed25519 is deterministic: both produce the same bytes
    assert.equal(nodeSignature, naclSignature);
    assert.ok(pureJs.verify(hotkey.publicKey, message, nodeSignature));
    assert.ok(verify(verifyKey(hotkey.publicKey), message, naclSignature));
    // and both refuse a flipped bit
    const flipped = Buffer.from(nodeSignature);
    flipped[i % 64] ^= 0x10;
    assert.not.ok(pureJs.verify(hotkey.publicKey, message, flipped));
    assert.not.ok(verify(verifyKey(hotkey.publicKey), message, flipped));
  }
});

test('hotkey: Node signatures verify with libsodium and libsodium signatures verify with Node', async () => {
  const cases = Array.from({ length: 60 }, (_, i) => ({ hotkey: generateHotkey(), message: randomBytes(1 + i * 5) }));
  const ours = cases.map(({ hotkey, message }) => ({ publicKey: hotkey.publicKey, message, signature: sign(hotkey, message) }));
  const tampered = ours.map((c) => ({ ...c, message: Buffer.concat([c.message, Buffer.from([0])]) }));
  const verdicts = await pythonVerifyMany([...ours, ...tampered]);
  assert.equal(verdicts, [...ours.map(() => true), ...tampered.map(() => false)]);

  const theirs = await pythonSignMany(cases.map(({ hotkey, message }) => ({ seed: hotkey.seed, message })));
  assert.is(theirs.length, cases.length);
  cases.forEach(({ hotkey, message }, i) => {
    assert.ok(verify(verifyKeyOfAddress(hotkey.ss58Address), message, theirs[i]!), `case ${i}`);
    assert.ok(pureJs.verify(hotkey.publicKey, message, theirs[i]!));
    assert.equal(theirs[i], sign(hotkey, message));
  });
});

test('ed25519: libsodium is the hot path; it and Node\'s built-in make identical bytes and accept each other\'s', () => {
  // The addon ships prebuilt for this platform: its absence is a failure here, not a fallback.
  assert.ok(sodiumEd25519, 'sodium-native did not load');
  assert.is(ed25519().name, 'libsodium');
  assert.is(ed25519Named('node'), nodeEd25519);
  assert.is(ed25519Named('libsodium'), sodiumEd25519);
  assert.throws(() => ed25519Named('openssl'), /unknown Ed25519 implementation "openssl" \(libsodium or node\)/);
  const implementations = [nodeEd25519, sodiumEd25519!];
  for (let i = 0; i < 64; i++) {
    const hotkey = generateHotkey();
    const key = verifyKey(hotkey.publicKey);
    const message = randomBytes(i * 13);
    const expected = pureJs.sign(hotkey.seed, message);
    for (const signer of implementations) {
      const signature = signer.sign(hotkey.signingKey, message);
      assert.equal(signature, expected, `${signer.name} signature, case ${i}`);
      const flipped = Buffer.from(signature);
      flipped[(i * 5) % 64] ^= 1 << (i % 8);
      for (const verifier of implementations) {
        assert.ok(verifier.verify(key, message, signature), `${verifier.name} verifies ${signer.name}`);
        assert.not.ok(verifier.verify(key, message, flipped), `${verifier.name} refuses a flipped bit`);
        assert.not.ok(verifier.verify(key, Buffer.concat([message, Buffer.from([i])]), signature), `${verifier.name} refuses another message`);
        assert.not.ok(verifier.verify(key, message, signature.subarray(0, 63)), `${verifier.name} refuses 63 bytes`);
        assert.not.ok(verifier.verify(key, message, Buffer.concat([signature, Buffer.alloc(1)])), `${verifier.name} refuses 65 bytes`);
      }
    }
  }
});

test('ed25519: a signature whose S is not reduced (S + L) is refused by both', () => {
  const hotkey = generateHotkey();
  const message = Buffer.from('malleable?');
  const signature = sign(hotkey, message);
  // S is the little-endian second half; adding the group order L makes another encoding of it.
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
  let t = s + L;
  const malleated = Buffer.from(signature);
  for (let i = 32; i < 64; i++) { malleated[i] = Number(t & 0xffn); t >>= 8n; }
  assert.is(t, 0n); // S < L < 2^253, so S + L still fits in 32 bytes
  const key = verifyKey(hotkey.publicKey);
  assert.not.ok(nodeEd25519.verify(key, message, malleated));
  assert.not.ok(sodiumEd25519!.verify(key, message, malleated));
});

test('hotkey: verify refuses wrong lengths and another key without throwing', () => {
  const a = generateHotkey();
  const b = generateHotkey();
  const message = Buffer.from('m');
  const signature = sign(a, message);
  assert.not.ok(verify(verifyKey(b.publicKey), message, signature));
  assert.not.ok(verify(verifyKey(a.publicKey), message, signature.subarray(0, 63)));
  assert.not.ok(verify(verifyKey(a.publicKey), message, Buffer.concat([signature, Buffer.from([0])])));
  assert.not.ok(pureJs.verify(a.publicKey, message, signature.subarray(0, 63)));
  assert.throws(() => verifyKey(Buffer.alloc(31)), /32 bytes/);
  assert.throws(() => verifyKeyOfAddress('5nope'), /SS58/);
});

test('key file: round trip keeps the key and uses the Bittensor field names', () => {
  const hotkey = generateHotkey();
  const file = toKeyFile(hotkey);
  assert.equal(Object.keys(file).sort(), ['publicKey', 'secretSeed', 'ss58Address']);
  assert.match(file.secretSeed, /^0x[0-9a-f]{64}$/);
  assert.is(file.publicKey, `0x${hotkey.publicKey.toString('hex')}`);
  const back = fromKeyFile(JSON.stringify(file));
  assert.equal(back.seed, hotkey.seed);
  assert.equal(back.publicKey, hotkey.publicKey);
  assert.is(back.ss58Address, hotkey.ss58Address);
  // upper-case hex and a file with the seed alone are accepted
  assert.is(fromKeyFile(JSON.stringify({ ...file, publicKey: file.publicKey.toUpperCase().replace('0X', '0x') })).ss58Address, hotkey.ss58Address);
  assert.is(fromKeyFile(JSON.stringify({ secretSeed: file.secretSeed })).ss58Address, hotkey.ss58Address);
});

test('key file: inconsistent or malformed files are refused with the reason', () => {
  const file = toKeyFile(generateHotkey());
  const other = toKeyFile(generateHotkey());
  const cases: [string, RegExp][] = [
    ['not json', /not JSON/],
    ['null', /secretSeed/],
    ['[]', /secretSeed/],
    [JSON.stringify({ ...file, secretSeed: file.secretSeed.slice(0, -2) }), /64 hex digits/],
    [JSON.stringify({ ...file, secretSeed: file.secretSeed.slice(2) }), /0x/],
    [JSON.stringify({ ...file, secretSeed: `${file.secretSeed.slice(0, -1)}g` }), /hex/],
    [JSON.stringify({ ...file, publicKey: other.publicKey }), /publicKey does not belong/],
    [JSON.stringify({ ...file, ss58Address: other.ss58Address }), /ss58Address does not belong/],
    [JSON.stringify({ ...file, publicKey: 42 }), /publicKey must be a string/],
    [JSON.stringify({ ...file, ss58Address: {} }), /ss58Address must be a string/],
  ];
  for (const [text, reason] of cases) assert.throws(() => fromKeyFile(text), reason, text);
});

test('signing: the request string is nonce.dendrite.axon.uuid.name.sha256(body)', () => {
  const body = Buffer.from([0x80]);
  const message = requestSigningMessage({ nonce: 1764331200123456, dendriteHotkey: 'D', axonHotkey: 'A', uuid: 'u-1', name: 'Specs', body });
  assert.is(
    message.toString('utf8'),
    '1764331200123456.D.A.u-1.Specs.76be8b528d0075f7aae98d6fa57a6d3c83ae480a8469e668d7b0af968995ac71',
  );
  assert.is(sha256Hex(body), '76be8b528d0075f7aae98d6fa57a6d3c83ae480a8469e668d7b0af968995ac71');
});

test('signing: the reply string is nonce.axon.dendrite.uuid.id.code.sha256(body or nothing)', () => {
  const withBody = replySigningMessage({ axonNonce: 1764331200500000, axonHotkey: 'A', dendriteHotkey: 'D', uuid: 'u-1', id: 7, code: 200, body: Buffer.from('abc') });
  assert.is(withBody.toString('utf8'), '1764331200500000.A.D.u-1.7.200.ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const withoutBody = replySigningMessage({ axonNonce: 1764331200500001, axonHotkey: 'A', dendriteHotkey: 'D', uuid: 'u-1', id: 8, code: 401, body: undefined });
  assert.is(withoutBody.toString('utf8'), '1764331200500001.A.D.u-1.8.401.e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  // UTF-8 bytes, not UTF-16
  const unicode = requestSigningMessage({ nonce: 1, dendriteHotkey: 'D', axonHotkey: 'A', uuid: 'ü', name: 'Specs', body: Buffer.alloc(0) });
  assert.ok(unicode.includes(Buffer.from([0xc3, 0xbc])));
});

test('nonce: microseconds since the epoch, strictly increasing even within one millisecond', () => {
  const now = Date.now();
  const first = nextNonce(now);
  assert.ok(first >= now * 1000 && Number.isSafeInteger(first));
  let last = first;
  for (let i = 0; i < 1000; i++) {
    const next = nextNonce(now); // the same millisecond each time
    assert.ok(next > last);
    last = next;
  }
  assert.ok(nextNonce(now - 10_000) > last); // a clock step backwards never repeats a nonce
});

test.run();
