// protocol/test-vector.json is reproducible from its inputs and is read, verified and re-signed
// identically by a second implementation written from PROTOCOL.md alone (Python: msgpack + PyNaCl).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  decode, parseWith, verifyKeyOfAddress, replyEnvelopeSchema, replySigningMessage, requestEnvelopeSchema,
  requestSigningMessage, specsRequestSchema, specsResponseSchema, verify,
} from '../protocol/index.js';
import { python } from './helpers/python.js';
import { buildVector, VECTOR_PATH, type TestVector } from './helpers/vector.js';

const stored = JSON.parse(readFileSync(VECTOR_PATH, 'utf8')) as TestVector;

test('every value of the stored vector is recomputed from its inputs', () => {
  assert.equal(buildVector(), stored);
});

test('protocol/README.md quotes every value of the vector exactly', () => {
  const readme = readFileSync(join(dirname(VECTOR_PATH), 'README.md'), 'utf8').replace(/\s+/g, '');
  const quoted = [
    stored.keys.validator.publicKey, stored.keys.validator.ss58Address, stored.keys.miner.publicKey, stored.keys.miner.ss58Address,
    stored.request.bodySha256, stored.request.signingString, stored.request.signatureHex, stored.request.frameHex,
    stored.reply.bodyHex, stored.reply.bodySha256, stored.reply.signingString, stored.reply.signatureHex, stored.reply.frameHex,
  ];
  for (const value of quoted) assert.ok(readme.includes(value), `README lacks ${value.slice(0, 40)}…`);
  assert.ok(readme.includes(`Frame(${stored.request.frameHex.length / 2}bytes`));
  assert.ok(readme.includes(`Frame(${stored.reply.frameHex.length / 2}bytes`));
});

test('the request frame decodes to a valid envelope whose signature verifies', () => {
  const envelope = parseWith(requestEnvelopeSchema, decode(Buffer.from(stored.request.frameHex, 'hex')));
  assert.ok(envelope.ok);
  if (!envelope.ok) return;
  const e = envelope.value;
  assert.is(e.dendrite.hotkey, stored.keys.validator.ss58Address);
  assert.is(e.axon.hotkey, stored.keys.miner.ss58Address);
  const message = requestSigningMessage({ nonce: e.dendrite.nonce, dendriteHotkey: e.dendrite.hotkey, axonHotkey: e.axon.hotkey, uuid: e.dendrite.uuid, name: e.name, body: e.body });
  assert.is(message.toString('utf8'), stored.request.signingString);
  assert.ok(verify(verifyKeyOfAddress(e.dendrite.hotkey), message, e.dendrite.signature));
  assert.ok(parseWith(specsRequestSchema, decode(e.body)).ok);
});

test('the reply frame decodes to a valid envelope whose signature verifies and whose body is a Specs response', () => {
  const request = decode(Buffer.from(stored.request.frameHex, 'hex')) as { dendrite: { hotkey: string; uuid: string } };
  const envelope = parseWith(replyEnvelopeSchema, decode(Buffer.from(stored.reply.frameHex, 'hex')));
  assert.ok(envelope.ok);
  if (!envelope.ok) return;
  const e = envelope.value;
  const message = replySigningMessage({ axonNonce: e.axon.nonce, axonHotkey: e.axon.hotkey, dendriteHotkey: request.dendrite.hotkey, uuid: request.dendrite.uuid, id: e.id, code: e.status.code, body: e.body });
  assert.is(message.toString('utf8'), stored.reply.signingString);
  assert.ok(verify(verifyKeyOfAddress(e.axon.hotkey), message, e.axon.signature));
  const body = parseWith(specsResponseSchema, decode(e.body!));
  assert.ok(body.ok);
  if (body.ok) assert.equal(body.value, stored.reply.bodyFields);
});

// A client written from PROTOCOL.md alone: its own base58, SS58, signing strings; msgpack and PyNaCl.
const INDEPENDENT_CLIENT = String.raw`
import sys, json, hashlib, msgpack, nacl.signing, nacl.exceptions

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
def b58encode(raw):
    n = int.from_bytes(raw, "big"); out = ""
    while n: n, r = divmod(n, 58); out = ALPHABET[r] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out
def b58decode(text):
    n = 0
    for ch in text: n = n * 58 + ALPHABET.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body
def ss58(pub):
    payload = bytes([42]) + pub
    return b58encode(payload + hashlib.blake2b(b"SS58PRE" + payload, digest_size=64).digest()[:2])
def ss58_key(address):
    raw = b58decode(address)
    assert len(raw) == 35 and raw[0] == 42, "bad ss58"
    assert hashlib.blake2b(b"SS58PRE" + raw[:33], digest_size=64).digest()[:2] == raw[33:], "bad checksum"
    return raw[1:33]

vector = json.load(sys.stdin)
validator = nacl.signing.SigningKey(bytes.fromhex(vector["keys"]["validator"]["seed"]))
miner = nacl.signing.SigningKey(bytes.fromhex(vector["keys"]["miner"]["seed"]))
out = {
    "validator_ss58": ss58(validator.verify_key.encode()),
    "miner_ss58": ss58(miner.verify_key.encode()),
}

req = msgpack.unpackb(bytes.fromhex(vector["request"]["frameHex"]), raw=False, strict_map_key=True)
d = req["dendrite"]
req_message = "%d.%s.%s.%s.%s.%s" % (d["nonce"], d["hotkey"], req["axon"]["hotkey"], d["uuid"], req["name"], hashlib.sha256(req["body"]).hexdigest())
def verifies(address, message, signature):
    try:
        nacl.signing.VerifyKey(ss58_key(address)).verify(message.encode(), signature); return True
    except nacl.exceptions.BadSignatureError:
        return False
out["request"] = {
    "keys": sorted(req.keys()), "dendrite_keys": sorted(d.keys()),
    "v": req["v"], "id": req["id"], "name": req["name"], "timeout": req["timeout"],
    "nonce_is_int": type(d["nonce"]) is int, "nonce": d["nonce"], "uuid": d["uuid"],
    "body": msgpack.unpackb(req["body"], raw=False),
    "signing_string": req_message,
    "signature_valid": verifies(d["hotkey"], req_message, d["signature"]),
    # signing the same string ourselves gives the same bytes: Ed25519 is deterministic
    "own_signature": validator.sign(req_message.encode()).signature.hex(),
}

rep = msgpack.unpackb(bytes.fromhex(vector["reply"]["frameHex"]), raw=False, strict_map_key=True)
a = rep["axon"]
rep_message = "%d.%s.%s.%s.%d.%d.%s" % (a["nonce"], a["hotkey"], d["hotkey"], d["uuid"], rep["id"], rep["status"]["code"], hashlib.sha256(rep.get("body", b"")).hexdigest())
out["reply"] = {
    "keys": sorted(rep.keys()), "status": rep["status"], "nonce_is_int": type(a["nonce"]) is int,
    "process_time": rep["process_time"],
    "body": msgpack.unpackb(rep["body"], raw=False),
    "signing_string": rep_message,
    "signature_valid": verifies(a["hotkey"], rep_message, a["signature"]),
    "tampered_valid": verifies(a["hotkey"], rep_message.replace(".200.", ".500."), a["signature"]),
    "own_signature": miner.sign(rep_message.encode()).signature.hex(),
}
print(json.dumps(out))
`;

test('a second implementation (Python msgpack + PyNaCl) reads, verifies and re-signs the vector identically', async () => {
  const result = JSON.parse(await python(INDEPENDENT_CLIENT, [], JSON.stringify(stored))) as Record<string, any>;
  assert.is(result.validator_ss58, stored.keys.validator.ss58Address);
  assert.is(result.miner_ss58, stored.keys.miner.ss58Address);

  const request = result.request;
  assert.equal(request.keys, ['axon', 'body', 'dendrite', 'id', 'name', 'timeout', 'v']);
  assert.equal(request.dendrite_keys, ['hotkey', 'nonce', 'signature', 'uuid']);
  assert.is(request.nonce_is_int, true);
  assert.is(request.nonce, 1764331200123456);
  assert.equal([request.v, request.id, request.name, request.timeout], [1, 1, 'Specs', 12]);
  assert.equal(request.body, stored.request.bodyFields);
  assert.is(request.signing_string, stored.request.signingString);
  assert.is(request.signature_valid, true);
  assert.is(request.own_signature, stored.request.signatureHex);

  const reply = result.reply;
  assert.equal(reply.keys, ['axon', 'body', 'id', 'name', 'process_time', 'status', 'v']);
  assert.equal(reply.status, { code: 200, message: 'OK' });
  assert.is(reply.nonce_is_int, true);
  assert.is(reply.process_time, 0.0125);
  assert.equal(reply.body, stored.reply.bodyFields);
  assert.is(reply.signing_string, stored.reply.signingString);
  assert.is(reply.signature_valid, true);
  assert.is(reply.tampered_valid, false);
  assert.is(reply.own_signature, stored.reply.signatureHex);
});

test.run();
