// Builds the complete wire test vector of protocol/README.md from fixed inputs. Ed25519 is
// deterministic, so every value is reproducible. `node dist/test/helpers/vector.js --write`
// rewrites protocol/test-vector.json; the protocol-vector test recomputes and compares it.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode, hotkeyFromSeed, replySigningMessage, requestSigningMessage, sha256Hex, sign } from '../../protocol/index.js';

export const VECTOR_INPUTS = {
  validatorSeed: '01'.repeat(32),
  minerSeed: '02'.repeat(32),
  request: {
    v: 1,
    id: 1,
    name: 'Specs',
    timeout: 12,
    nonce: 1764331200123456,
    uuid: '6f1c0a4e-2b7d-4c59-9a3e-1d2f3b4c5d6e',
    fields: {} as Record<string, unknown>,
  },
  reply: {
    nonce: 1764331200234567,
    code: 200,
    message: 'OK',
    process_time: 0.0125,
    fields: {
      specs_output: {
        cpu: { count: 2, frequency: 2445, vendor: 'AuthenticAMD', model: 'AMD EPYC' },
        gpu: { count: 0, capacity: 0, details: [] as { name: string; capacity: number }[] },
        hard_disk: { total: 107374182400, free: 64424509440, used: 42949672960 },
        ram: { total: 8589934592, available: 6442450944, used: 2147483648, free: 4294967296 },
        docker: { available: true, version: '20.10.24' },
      },
    },
  },
};

export interface TestVector {
  description: string;
  keys: {
    validator: { seed: string; publicKey: string; ss58Address: string };
    miner: { seed: string; publicKey: string; ss58Address: string };
  };
  request: VectorMessage;
  reply: VectorMessage;
}

/** One signed message of the vector: its body, what is signed, and the whole frame. */
export interface VectorMessage {
  bodyFields: Record<string, unknown>;
  bodyHex: string;
  bodySha256: string;
  signingString: string;
  signatureHex: string;
  envelope: Record<string, unknown>;
  frameHex: string;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
// In the JSON form of an envelope, binary fields are written as {"hex": "..."}.
const bin = (bytes: Uint8Array) => ({ hex: hex(bytes) });

export function buildVector(inputs = VECTOR_INPUTS): TestVector {
  const validator = hotkeyFromSeed(Buffer.from(inputs.validatorSeed, 'hex'));
  const miner = hotkeyFromSeed(Buffer.from(inputs.minerSeed, 'hex'));
  const r = inputs.request;

  const requestBody = encode(r.fields);
  const requestSigning = requestSigningMessage({
    nonce: r.nonce, dendriteHotkey: validator.ss58Address, axonHotkey: miner.ss58Address, uuid: r.uuid, name: r.name, body: requestBody,
  });
  const requestSignature = sign(validator, requestSigning);
  const requestEnvelope = {
    v: r.v, id: r.id, name: r.name, timeout: r.timeout, body: requestBody,
    dendrite: { hotkey: validator.ss58Address, nonce: r.nonce, uuid: r.uuid, signature: requestSignature },
    axon: { hotkey: miner.ss58Address },
  };

  const p = inputs.reply;
  const replyBody = encode(p.fields);
  const replySigning = replySigningMessage({
    axonNonce: p.nonce, axonHotkey: miner.ss58Address, dendriteHotkey: validator.ss58Address, uuid: r.uuid, id: r.id, code: p.code, body: replyBody,
  });
  const replySignature = sign(miner, replySigning);
  const replyEnvelope = {
    v: r.v, id: r.id, name: r.name, status: { code: p.code, message: p.message }, body: replyBody,
    axon: { hotkey: miner.ss58Address, nonce: p.nonce, signature: replySignature },
    process_time: p.process_time,
  };

  return {
    description: 'A Specs request from the validator to the miner and the miner\'s reply, protocol version 1. See protocol/README.md.',
    keys: {
      validator: { seed: inputs.validatorSeed, publicKey: hex(validator.publicKey), ss58Address: validator.ss58Address },
      miner: { seed: inputs.minerSeed, publicKey: hex(miner.publicKey), ss58Address: miner.ss58Address },
    },
    request: {
      bodyFields: r.fields,
      bodyHex: hex(requestBody),
      bodySha256: sha256Hex(requestBody),
      signingString: requestSigning.toString('utf8'),
      signatureHex: hex(requestSignature),
      envelope: { ...requestEnvelope, body: bin(requestBody), dendrite: { ...requestEnvelope.dendrite, signature: bin(requestSignature) } },
      frameHex: hex(encode(requestEnvelope)),
    },
    reply: {
      bodyFields: p.fields,
      bodyHex: hex(replyBody),
      bodySha256: sha256Hex(replyBody),
      signingString: replySigning.toString('utf8'),
      signatureHex: hex(replySignature),
      envelope: { ...replyEnvelope, body: bin(replyBody), axon: { ...replyEnvelope.axon, signature: bin(replySignature) } },
      frameHex: hex(encode(replyEnvelope)),
    },
  };
}

export const VECTOR_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'protocol', 'test-vector.json');

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(VECTOR_PATH, `${JSON.stringify(buildVector(), null, 2)}\n`);
  process.stdout.write(`wrote ${VECTOR_PATH}\n`);
}
