// The declared schemas: every field missing or of the wrong type in turn is refused with
// "path: message", Allocate's case table is decided in one place, Challenge's domain checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  allocateIntent, allocateRequestSchema, challengeRequestSchema, challengeTask, decode, encode, parseWith,
  replyEnvelopeSchema, requestEnvelopeSchema, specsOutputSchema, specsRequestSchema, SYNAPSES,
  type AllocateRequest,
} from '../protocol/index.js';
import type { z } from 'zod';
import { sshKeyPair } from './helpers/ssh-keys.js';

type Path = (string | number)[];
const DELETE = Symbol('delete');

/** Paths of every leaf (non-map value, or empty map/array) of a sample value. */
function leaves(value: unknown, path: Path = []): Path[] {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return [path];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return [path];
  return entries.flatMap(([key, inner]) => leaves(inner, [...path, Array.isArray(value) ? Number(key) : key]));
}

/** A deep copy of `value` with the field at `path` replaced (or removed). */
function withField(value: unknown, path: Path, replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let cursor = copy;
  for (const key of path.slice(0, -1)) cursor = cursor[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (replacement === DELETE) delete cursor[last];
  else cursor[last] = replacement;
  return copy;
}

/** A value of another type than `sample`. */
function wrongType(sample: unknown): unknown {
  if (typeof sample === 'number') return 'not a number';
  if (typeof sample === 'string') return 12;
  if (typeof sample === 'boolean') return 'yes';
  if (sample instanceof Uint8Array) return 'not binary';
  if (Array.isArray(sample)) return { not: 'an array' };
  return 'not a map';
}

function expectRefused(schema: z.ZodTypeAny, value: unknown, path: Path, label: string): void {
  const parsed = parseWith(schema, value);
  assert.not.ok(parsed.ok, `${label}: accepted`);
  if (!parsed.ok) {
    const prefix = `${path.join('.')}: `;
    assert.ok(parsed.message.startsWith(prefix), `${label}: "${parsed.message}" does not start with "${prefix}"`);
    assert.ok(parsed.message.length > prefix.length, `${label}: no message after the path`);
  }
}

/** Every leaf missing, then every leaf of the wrong type, is refused naming that leaf. */
function everyFieldRefused(schema: z.ZodTypeAny, sample: unknown, optional: string[] = []): number {
  assert.ok(parseWith(schema, sample).ok, 'the sample itself must be valid');
  let checked = 0;
  for (const path of leaves(sample)) {
    const name = path.join('.');
    if (!optional.includes(name)) {
      expectRefused(schema, withField(sample, path, DELETE), path, `missing ${name}`);
      checked++;
    }
    const leaf = path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], sample);
    expectRefused(schema, withField(sample, path, wrongType(leaf)), path, `wrong type ${name}`);
    checked++;
  }
  return checked;
}

// Keys the Allocate schema checks for real.
const rsaPem = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const RSA_2048 = rsaPem(2048);
const SSH_ED25519 = sshKeyPair().public;

const ALLOCATE: AllocateRequest = {
  timeline: 1,
  device_requirement: { cpu: { count: 1 }, ram: { capacity: 2 ** 30 }, hard_disk: { capacity: 2 ** 31 }, gpu: { count: 0, capacity: 0, type: '' }, testing: false },
  checking: false,
  public_key: RSA_2048,
  docker_requirement: { base_image: 'ubuntu', ssh_key: SSH_ED25519, ssh_port: 4444, volume_path: '/tmp', dockerfile: 'RUN true' },
  docker_change: false,
  docker_action: { action: '', ssh_key: '', key_type: '' },
};

const CHALLENGE = {
  challenge_hash: `$BLAKE2$${createHash('blake2b512').update('abxyz').digest('hex')}`,
  challenge_salt: 'xyz',
  challenge_mode: '610',
  challenge_chars: 'abc',
  challenge_mask: '?1?1',
  challenge_difficulty: 2,
};

const SPECS_OUTPUT = {
  cpu: { count: 2, frequency: 2445.4, vendor: 'AuthenticAMD', model: 'AMD EPYC' },
  gpu: { count: 1, capacity: 24576, details: [{ name: 'NVIDIA GeForce RTX 4090', capacity: 24576 }] },
  hard_disk: { total: 100, free: 60, used: 40 },
  ram: { total: 1000, available: 700, used: 300, free: 500 },
  docker: { available: true, version: '20.10.24' },
};

const REQUEST_ENVELOPE = {
  v: 1, id: 1, name: 'Specs', timeout: 12, body: encode({}),
  dendrite: { hotkey: '5D', nonce: 1764331200123456, uuid: 'u', signature: new Uint8Array(64) },
  axon: { hotkey: '5A' },
};

const REPLY_ENVELOPE = {
  v: 1, id: 1, name: 'Specs', status: { code: 200, message: 'OK' }, body: encode({}),
  axon: { hotkey: '5A', nonce: 1764331200123456, signature: new Uint8Array(64) },
  process_time: 0.001,
};

test('Allocate: every field of the wrong type, and every required field missing, is refused with its path', () => {
  // Fields with defaults may be left out (timeline defaults to 0); the three resource sizes and
  // public_key may not for an allocation.
  const optional = [
    'timeline', 'device_requirement.gpu.count', 'device_requirement.gpu.capacity', 'device_requirement.gpu.type', 'device_requirement.testing',
    'checking', 'docker_requirement.base_image', 'docker_requirement.ssh_key', 'docker_requirement.ssh_port',
    'docker_requirement.volume_path', 'docker_requirement.dockerfile', 'docker_change',
    'docker_action.action', 'docker_action.ssh_key', 'docker_action.key_type',
  ];
  const checked = everyFieldRefused(allocateRequestSchema, ALLOCATE, optional);
  assert.is(checked, 23); // 19 leaves mistyped, 4 required ones missing
  for (const path of leaves(ALLOCATE).filter((p) => optional.includes(p.join('.')))) {
    assert.ok(parseWith(allocateRequestSchema, withField(ALLOCATE, path, DELETE)).ok, `optional ${path.join('.')}`);
  }
  // whole sections missing name the field that is required
  expectRefused(allocateRequestSchema, withField(ALLOCATE, ['device_requirement', 'cpu'], DELETE), ['device_requirement', 'cpu', 'count'], 'no cpu');
  expectRefused(allocateRequestSchema, withField(ALLOCATE, ['device_requirement', 'ram'], DELETE), ['device_requirement', 'ram', 'capacity'], 'no ram');
  expectRefused(allocateRequestSchema, withField(ALLOCATE, ['device_requirement', 'hard_disk'], DELETE), ['device_requirement', 'hard_disk', 'capacity'], 'no disk');
});

test('Allocate: impossible values are refused with the path and the bound', () => {
  const cases: [Path, unknown, RegExp][] = [
    [['device_requirement', 'ram', 'capacity'], 1024, /^device_requirement\.ram\.capacity: must be ≥ 67108864$/],
    [['device_requirement', 'ram', 'capacity'], 2 ** 51, /must be ≤/],
    [['device_requirement', 'ram', 'capacity'], 2 ** 30 + 0.5, /must be an integer/],
    [['device_requirement', 'cpu', 'count'], 0, /^device_requirement\.cpu\.count: must be ≥ 1$/],
    [['device_requirement', 'cpu', 'count'], 100_000, /must be ≤ 4096/],
    [['device_requirement', 'hard_disk', 'capacity'], -1, /must be ≥ 0/],
    [['device_requirement', 'gpu', 'count'], -1, /^device_requirement\.gpu\.count: must be ≥ 0$/],
    [['device_requirement', 'gpu', 'count'], 'some', /must be an integer ≥ 0 or "all"/],
    [['timeline'], -1, /^timeline: must be ≥ 0$/],
    [['timeline'], Number.POSITIVE_INFINITY, /^timeline: /],
    [['timeline'], 10_000, /must be ≤ 3650/],
    [['docker_requirement', 'ssh_port'], 70_000, /^docker_requirement\.ssh_port: /],
    [['docker_requirement', 'dockerfile'], 'x'.repeat(64 * 1024 + 1), /^docker_requirement\.dockerfile: must be ≤ 65536 characters$/],
    [['docker_requirement', 'ssh_key'], 'ssh-ed25519 AAAA\nrm -rf /', /^docker_requirement\.ssh_key: must be one OpenSSH public key line/],
    [['public_key'], 'not a key', /^public_key: must be a PEM SubjectPublicKeyInfo/],
  ];
  for (const [path, value, reason] of cases) {
    const parsed = parseWith(allocateRequestSchema, withField(ALLOCATE, path, value));
    assert.not.ok(parsed.ok, `${path.join('.')} = ${String(value).slice(0, 40)}`);
    if (!parsed.ok) assert.match(parsed.message, reason);
  }
  // "all" GPUs and fractional days are fine
  assert.ok(parseWith(allocateRequestSchema, withField(ALLOCATE, ['device_requirement', 'gpu', 'count'], 'all')).ok);
  assert.ok(parseWith(allocateRequestSchema, withField(ALLOCATE, ['timeline'], 0.25)).ok);
});

test('Allocate: allocateIntent decides every row of the case table', () => {
  const parse = (fields: Record<string, unknown>): AllocateRequest => {
    const parsed = parseWith(allocateRequestSchema, fields);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.value;
  };
  const resources = ALLOCATE.device_requirement;
  // checking, timeline > 0: can this miner take it? (no public_key needed)
  assert.equal(allocateIntent(parse({ checking: true, timeline: 1, device_requirement: resources })), { kind: 'check-free' });
  // checking, timeline 0: is public_key the holder?
  assert.equal(allocateIntent(parse({ checking: true, timeline: 0, public_key: RSA_2048 })), { kind: 'check-holder' });
  // checking is the default: an empty request asks about the holder, and then needs the key
  const empty = parseWith(allocateRequestSchema, {});
  assert.not.ok(empty.ok);
  if (!empty.ok) assert.is(empty.message, 'public_key: is required');
  // not checking, timeline > 0, no docker_change: allocate
  assert.equal(allocateIntent(parse({ checking: false, timeline: 2.5, device_requirement: resources, public_key: RSA_2048 })), { kind: 'allocate' });
  // not checking, timeline 0, no docker_change: de-allocate
  assert.equal(allocateIntent(parse({ checking: false, timeline: 0, public_key: RSA_2048 })), { kind: 'deallocate' });
  // not checking, any timeline, docker_change: the action on the holder's container
  for (const timeline of [0, 3]) {
    const act = (docker_action: Record<string, string>) => allocateIntent(parse({ checking: false, timeline, public_key: RSA_2048, docker_change: true, docker_action }));
    assert.equal(act({ action: 'restart' }), { kind: 'action', action: 'restart' });
    assert.equal(act({ action: 'pause' }), { kind: 'action', action: 'pause' });
    assert.equal(act({ action: 'unpause' }), { kind: 'action', action: 'unpause' });
    assert.equal(act({ action: 'resume' }), { kind: 'action', action: 'unpause' });
    assert.equal(act({ action: 'exchange_key', key_type: 'user', ssh_key: SSH_ED25519 }), { kind: 'action', action: 'exchange_key', keyType: 'user', sshKey: SSH_ED25519 });
    assert.equal(act({ action: 'exchange_key', key_type: 'terminal', ssh_key: SSH_ED25519 }), { kind: 'action', action: 'exchange_key', keyType: 'terminal', sshKey: SSH_ED25519 });
  }
  // checking wins over docker_change: a question never changes anything
  assert.equal(allocateIntent(parse({ checking: true, timeline: 0, public_key: RSA_2048, docker_change: true, docker_action: { action: 'restart' } })), { kind: 'check-holder' });
  assert.equal(allocateIntent(parse({ checking: true, timeline: 1, device_requirement: resources, docker_change: true, docker_action: { action: 'pause' } })), { kind: 'check-free' });
  // rows that need the holder's key refuse without it
  for (const fields of [{ checking: false, timeline: 0 }, { checking: false, timeline: 0, docker_change: true, docker_action: { action: 'restart' } }, { checking: false, timeline: 1, device_requirement: resources }]) {
    const parsed = parseWith(allocateRequestSchema, fields);
    assert.not.ok(parsed.ok);
    if (!parsed.ok) assert.match(parsed.message, /public_key: is required/);
  }
  // a docker action must be one the table knows, with a key to exchange
  const bad = (docker_action: Record<string, string>) => parseWith(allocateRequestSchema, { checking: false, public_key: RSA_2048, docker_change: true, docker_action });
  const unknown = bad({ action: 'delete' });
  assert.ok(!unknown.ok && unknown.message.startsWith('docker_action.action: must be one of exchange_key, restart, pause, unpause, resume'));
  const noKey = bad({ action: 'exchange_key', key_type: 'user' });
  assert.ok(!noKey.ok && noKey.message === 'docker_action.ssh_key: is required for exchange_key');
  const badType = bad({ action: 'exchange_key', key_type: 'admin', ssh_key: SSH_ED25519 });
  assert.ok(!badType.ok && badType.message === 'docker_action.key_type: must be user or terminal');
  const badKey = bad({ action: 'exchange_key', key_type: 'user', ssh_key: 'command="sh" ' + SSH_ED25519 });
  assert.ok(!badKey.ok && badKey.message.startsWith('docker_action.ssh_key: '));
});

test('Challenge: every field missing or of the wrong type is refused with its path', () => {
  const checked = everyFieldRefused(challengeRequestSchema, CHALLENGE);
  assert.is(checked, 12);
  expectRefused(challengeRequestSchema, { ...CHALLENGE, challenge_difficulty: 2.5 }, ['challenge_difficulty'], 'fraction');
});

test('Challenge: challengeTask accepts a solvable task and names what is wrong otherwise', () => {
  const task = challengeTask(CHALLENGE);
  assert.ok(typeof task !== 'string', String(task));
  if (typeof task !== 'string') {
    assert.is(task.digest.toString('hex'), CHALLENGE.challenge_hash.slice(8));
    assert.equal(task.salt, Buffer.from('xyz'));
    assert.equal(task.charset, ['a', 'b', 'c']);
    assert.is(task.length, 2);
  }
  const multibyte = challengeTask({ ...CHALLENGE, challenge_chars: 'aé✓' });
  assert.ok(typeof multibyte !== 'string' && multibyte.charset.length === 3);
  const cases: [Partial<typeof CHALLENGE>, RegExp][] = [
    [{ challenge_mode: '0' }, /challenge_mode "0" is not supported/],
    [{ challenge_difficulty: 0, challenge_mask: '' }, /challenge_difficulty must be 1–12, not 0/],
    [{ challenge_difficulty: -3 }, /must be 1–12, not -3/],
    [{ challenge_difficulty: 13, challenge_mask: '?1'.repeat(13) }, /must be 1–12, not 13/],
    [{ challenge_mask: '?1?1?1' }, /challenge_mask must be "\?1" repeated 2 times/],
    [{ challenge_mask: '?a?a' }, /challenge_mask/],
    [{ challenge_chars: '' }, /challenge_chars is empty/],
    [{ challenge_chars: 'aba' }, /repeated character/],
    [{ challenge_hash: 'abc' }, /\$BLAKE2\$ followed by 128 hex digits/],
    [{ challenge_hash: `$BLAKE2$${'0'.repeat(127)}` }, /128 hex/],
    [{ challenge_hash: `$BLAKE2$${'g'.repeat(128)}` }, /128 hex/],
  ];
  for (const [change, reason] of cases) {
    const result = challengeTask({ ...CHALLENGE, ...change });
    assert.type(result, 'string', JSON.stringify(change));
    assert.match(result as string, reason);
  }
  // the miner's own maximum is a parameter
  assert.type(challengeTask({ ...CHALLENGE }, 1), 'string');
  assert.type(challengeTask({ ...CHALLENGE, challenge_difficulty: 13, challenge_mask: '?1'.repeat(13) }, 13), 'object');
});

test('Specs: the request ignores specs_input, and the output refuses every missing or mistyped field', () => {
  assert.ok(parseWith(specsRequestSchema, {}).ok);
  assert.ok(parseWith(specsRequestSchema, { specs_input: 'anything' }).ok);
  expectRefused(specsRequestSchema, { specs_input: 5 }, ['specs_input'], 'specs_input');
  const checked = everyFieldRefused(specsOutputSchema, SPECS_OUTPUT);
  assert.is(checked, 34); // 17 leaves, each missing and mistyped
  expectRefused(specsOutputSchema, withField(SPECS_OUTPUT, ['ram', 'total'], -1), ['ram', 'total'], 'negative bytes');
  expectRefused(specsOutputSchema, withField(SPECS_OUTPUT, ['hard_disk', 'free'], 1.5), ['hard_disk', 'free'], 'fractional bytes');
  // extra fields (e.g. the miner's challenge solver) pass through
  const extra = parseWith(specsOutputSchema, { ...SPECS_OUTPUT, solver: { kind: 'hashcat' } });
  assert.ok(extra.ok && (extra.value as Record<string, unknown>).solver !== undefined);
});

test('Envelopes: every request and reply field missing or of the wrong type is refused with its path', () => {
  assert.ok(everyFieldRefused(requestEnvelopeSchema, REQUEST_ENVELOPE) >= 20);
  assert.ok(everyFieldRefused(replyEnvelopeSchema, REPLY_ENVELOPE, ['body']) >= 15);
  expectRefused(requestEnvelopeSchema, withField(REQUEST_ENVELOPE, ['dendrite', 'signature'], new Uint8Array(63)), ['dendrite', 'signature'], '63-byte signature');
  expectRefused(requestEnvelopeSchema, withField(REQUEST_ENVELOPE, ['timeout'], 0), ['timeout'], 'zero timeout');
  expectRefused(requestEnvelopeSchema, withField(REQUEST_ENVELOPE, ['dendrite', 'uuid'], ''), ['dendrite', 'uuid'], 'empty uuid');
  expectRefused(requestEnvelopeSchema, withField(REQUEST_ENVELOPE, ['id'], -1), ['id'], 'negative id');
  // an envelope that went through the codec is still accepted
  assert.ok(parseWith(requestEnvelopeSchema, decode(encode(REQUEST_ENVELOPE))).ok);
});

test('SYNAPSES maps each name to its request and response schema', () => {
  assert.equal(Object.keys(SYNAPSES).sort(), ['Allocate', 'Challenge', 'Specs']);
  assert.ok(parseWith(SYNAPSES.Specs.response, { specs_output: SPECS_OUTPUT }).ok);
  assert.ok(parseWith(SYNAPSES.Challenge.request, CHALLENGE).ok);
  assert.ok(parseWith(SYNAPSES.Allocate.request, ALLOCATE).ok);
  assert.ok(parseWith(SYNAPSES.Allocate.response, { output: { status: false, port: 0, error: 'busy' } }).ok);
  assert.ok(parseWith(SYNAPSES.Challenge.response, { output: { password: null, local_execution_time: 0.1, error: 'no' } }).ok);
});

test('Allocate output: host_keys is optional, a list of at most 16 strings of at most 8 KiB', () => {
  const ok = (output: Record<string, unknown>) => parseWith(SYNAPSES.Allocate.response, { output }).ok;
  assert.ok(ok({ status: true, port: 2222, info: 'x' }));
  assert.ok(ok({ status: true, port: 2222, info: 'x', host_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFcZaNubsF9kfP1iFnJdcyTGoC2SSAAc+GU+eqOEwYps'] }));
  assert.ok(ok({ status: true, port: 2222, host_keys: [] }));
  assert.not.ok(ok({ status: true, port: 2222, host_keys: 'ssh-ed25519 AAAA' }));
  assert.not.ok(ok({ status: true, port: 2222, host_keys: [1] }));
  assert.not.ok(ok({ status: true, port: 2222, host_keys: Array.from({ length: 17 }, () => 'ssh-ed25519 AAAA') }));
  assert.not.ok(ok({ status: true, port: 2222, host_keys: ['x'.repeat(8193)] }));
});

test.run();
