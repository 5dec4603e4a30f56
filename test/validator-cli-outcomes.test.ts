// What the validator's commands say and exit with when a miner refuses this validator, is busy,
// or has forgotten a rental, run as a person runs them (`node dist/src/cli.js validator ...`)
// against fake miners: real axons with made-up Allocate and Challenge answers, no Docker.
// A refusal names the hotkey and the reason and leaves no key file; a suggested command works;
// exit 3 only blames a miner at fault (5: this hotkey is not let in, 6: the miner is busy).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  challengeRequestSchema, encryptAllocationInfo, generateHotkey, specsRequestSchema, type AllocateRequest, type AllocateResponse, type ChallengeRequest,
} from '../protocol/index.js';
import type { AccessPolicy } from '../src/axon/access.js';
import type { SynapsePlugin } from '../src/axon/synapse.js';
import { loadOrCreateHotkey } from '../src/keystore.js';
import { challengeHash } from '../src/validator/challenge.js';
import { checkMiner } from '../src/validator/checker.js';
import { CLI } from './helpers/cli-miner.js';
import { startTestAxon, type TestAxon } from './helpers/axon.js';
import { fakeAllocatePlugin, output, type FakeAnswer } from './helpers/miner-fakes.js';
import { sshKeyPair } from './helpers/ssh-keys.js';

/** The miner's own words (src/containers/manager.ts) for a key that holds nothing there. */
const NOT_HOLDER = 'permission denied: public_key is not the holder of this allocation';

/** Answers a difficulty-1 challenge by trying each character of its charset. */
const challengePlugin: SynapsePlugin = {
  name: 'Challenge',
  schema: challengeRequestSchema,
  concurrency: 2,
  forward: async (req: ChallengeRequest) => {
    const password = [...req.challenge_chars].find((c) => challengeHash(c, req.challenge_salt) === req.challenge_hash) ?? null;
    return { output: { password, local_execution_time: 0.001, error: null } };
  },
};

/** Credentials for the renter's key, as a miner that rented out a container sends them. */
const rented = (req: AllocateRequest, port = 2222): AllocateResponse =>
  output(true, { info: encryptAllocationInfo({ username: 'root', password: 'pw', port, version: 1 }, req.public_key!), port });

const nobody = (): AccessPolicy => ({ allowAny: false, allow: new Map(), deny: new Set(), minStake: 0 });

interface Ctx {
  dir: string;
  env: NodeJS.ProcessEnv;
  hotkeyFile: string;
  hotkey: string;
  axons: TestAxon[];
  /** Lines the refusing miner logged. */
  minerLog: string[];
  refusing: TestAxon;
}

const cli = suite<Ctx>('validator commands: refusals, busy miners, forgotten rentals');

cli.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'validator-outcomes-'));
  // A home of the test's own: the validator's hotkey and the rental records land in it.
  ctx.env = { ...process.env, HOME: join(ctx.dir, 'home'), COMPUTE_MINER_HOME: join(ctx.dir, 'renter-home') };
  ctx.hotkeyFile = join(ctx.dir, 'validator.json');
  ctx.hotkey = loadOrCreateHotkey(ctx.hotkeyFile).hotkey.ss58Address;
  ctx.axons = [];
  ctx.minerLog = [];
  const log = pino({ level: 'info' }, { write: (line: string) => ctx.minerLog.push(line) });
  ctx.refusing = await startTestAxon({ plugins: [fakeAllocatePlugin((req) => rented(req)), challengePlugin], access: nobody(), log });
  ctx.axons.push(ctx.refusing);
});

cli.after(async (ctx) => {
  for (const axon of ctx.axons ?? []) await axon.close();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

async function fakeMiner(ctx: Ctx, answer: FakeAnswer, extra: SynapsePlugin[] = []): Promise<TestAxon> {
  const axon = await startTestAxon({ plugins: [fakeAllocatePlugin(answer), ...extra] });
  ctx.axons.push(axon);
  return axon;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(ctx: Ctx, args: string[], cwd = ctx.dir, env = ctx.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A fresh folder to run allocate in, so its key files can be counted. */
function workDir(ctx: Ctx, name: string): string {
  const dir = join(ctx.dir, name);
  mkdirSync(dir);
  return dir;
}

function sshPublicKeyFile(ctx: Ctx, name: string, withPrivate: boolean): string {
  const pair = sshKeyPair(name);
  const file = join(ctx.dir, name);
  if (withPrivate) writeFileSync(file, pair.private, { mode: 0o600 });
  writeFileSync(`${file}.pub`, `${pair.public}\n`);
  return `${file}.pub`;
}

const allocateArgs = (url: string, pub: string) => ['validator', 'allocate', url, '--cpu', '1', '--ram', '256m', '--disk', '1g', '--days', '0.01', '--ssh-key', pub];

cli('a refused hotkey: allocate names it and the reason, keeps no key file, suggests no release, exits 5; the miner logs who and why', async (ctx) => {
  const cwd = workDir(ctx, 'refused');
  const r = await run(ctx, [...allocateArgs(ctx.refusing.url, sshPublicKeyFile(ctx, 'refused_ed25519', true)), '--hotkey', ctx.hotkeyFile], cwd);
  assert.is(r.code, 5, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^error: the miner does not let validator hotkey /);
  assert.ok(lines[0]!.includes(ctx.hotkey), 'names the refused hotkey');
  assert.match(lines[0]!, /403 hotkey is not allowed/);
  assert.not.match(r.stderr, /may still have allocated|validator release/);
  assert.equal(readdirSync(cwd), [], 'no key file, no known_hosts');
  const logged = ctx.minerLog.map((l) => JSON.parse(l) as { level: number; msg: string; hotkey?: string; reason?: string });
  const line = logged.find((l) => l.hotkey === ctx.hotkey && l.reason === 'not_allowed');
  assert.ok(line, `the miner logged the refusal: ${ctx.minerLog.join('')}`);
  assert.ok(line!.level >= 30, 'at info or above');
  assert.match(line!.msg, /hotkey is not allowed/);
});

cli('a refused hotkey: challenge says NOT ALLOWED (never FAILED), stops after one round and exits 5', async (ctx) => {
  const r = await run(ctx, ['validator', 'challenge', ctx.refusing.url, '--difficulty', '1', '--rounds', '3', '--hotkey', ctx.hotkeyFile]);
  assert.is(r.code, 5, r.stdout + r.stderr);
  assert.not.match(r.stdout, /FAILED/);
  assert.match(r.stdout, /^round 1: NOT ALLOWED /m);
  assert.not.match(r.stdout, /^round 2/m);
  assert.match(r.stderr, new RegExp(`^error: the miner does not let validator hotkey ${ctx.hotkey} in`));
  const json = await run(ctx, ['validator', 'challenge', ctx.refusing.url, '--difficulty', '1', '--hotkey', ctx.hotkeyFile, '--json']);
  assert.is(json.code, 5);
  assert.is(JSON.parse(json.stdout).rounds[0].refusal, 'not_allowed');
});

cli('a refused hotkey: check gives NOT_ALLOWED, penalises nobody and exits 5', async (ctx) => {
  const penalised = join(ctx.dir, 'penalised-refused.json');
  const r = await run(ctx, ['validator', 'check', ctx.refusing.url, '--no-proof', '--hotkey', ctx.hotkeyFile, '--penalised', penalised, '--json']);
  assert.is(r.code, 5, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.results[0].verdict, 'NOT_ALLOWED');
  assert.ok(doc.results[0].reason.includes(ctx.hotkey), doc.results[0].reason);
  assert.equal(doc.penalised, []);
});

cli('a busy miner: check gives BUSY, not ALLOCATION_FAILED, penalises nobody and exits 6', async (ctx) => {
  const full = await fakeMiner(ctx, (_req, intent) => (intent.kind === 'check-free' ? output(false, { error: 'already allocated: this miner is rented out' }) : output(true)));
  const fleet = await fakeMiner(ctx, () => output(false, { error: 'insufficient CPU: 1 core requested, the largest free on one host is 0' }));
  const r = await run(ctx, ['validator', 'check', full.url, fleet.url, '--no-proof', '--hotkey', ctx.hotkeyFile]);
  assert.is(r.code, 6, r.stdout + r.stderr);
  assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('ws://')).map((l) => l.split(/\s+/)[2]), ['BUSY', 'BUSY']);
  assert.match(r.stdout, /0 OK, 0 penalised, 2 busy/);
  // A miner at fault still wins the exit status: 3.
  const broken = await fakeMiner(ctx, () => output(false, { error: 'base image failed to build' }));
  const both = await run(ctx, ['validator', 'check', full.url, broken.url, '--no-proof', '--hotkey', ctx.hotkeyFile]);
  assert.is(both.code, 3);
  assert.match(both.stdout, /ALLOCATION_FAILED/);
});

cli('"insufficient memory" is busy from a miner whose Specs hold the request, a fault from one whose do not', async (ctx) => {
  const GiB = 1024 ** 3;
  const specsOf = (ramTotal: number): SynapsePlugin => ({
    name: 'Specs', schema: specsRequestSchema, concurrency: 1,
    forward: async () => ({
      specs_output: {
        cpu: { count: 4, frequency: 2000, vendor: 'x', model: 'x' }, gpu: { count: 0, capacity: 0, details: [] },
        hard_disk: { total: 100 * GiB, free: 50 * GiB, used: 50 * GiB }, ram: { total: ramTotal, available: 0, used: ramTotal, free: 0 },
        docker: { available: true, version: '1' },
      },
    }),
  });
  const short = () => output(false, { error: `insufficient memory: ${GiB} bytes requested, 0 available` });
  const rentedOut = await fakeMiner(ctx, short, [specsOf(8 * GiB)]);
  const small = await fakeMiner(ctx, short, [specsOf(GiB / 2)]);
  const validator = generateHotkey();
  const verdict = async (url: string) => (await checkMiner({ url }, { hotkey: validator, deadlineMs: 20_000 })).verdict;
  assert.is(await verdict(rentedOut.url), 'BUSY');
  assert.is(await verdict(small.url), 'ALLOCATION_FAILED');
});

cli('a busy miner: allocate exits 6 and keeps no key file', async (ctx) => {
  const full = await fakeMiner(ctx, () => output(false, { error: 'already allocated: this miner is rented out' }));
  const cwd = workDir(ctx, 'busy');
  const r = await run(ctx, [...allocateArgs(full.url, sshPublicKeyFile(ctx, 'busy_ed25519', true)), '--hotkey', ctx.hotkeyFile], cwd);
  assert.is(r.code, 6, r.stderr);
  assert.match(r.stderr, /^error: the miner refused: already allocated: this miner is rented out \(it is busy: try again later\)\n$/);
  assert.equal(readdirSync(cwd), []);
});

cli('two rentals from one miner need no flag: each gets its own key file; the ssh line has -i for the --ssh-key given', async (ctx) => {
  const miner = await fakeMiner(ctx, (req, intent) => (intent.kind === 'allocate' ? rented(req) : output(true)));
  const cwd = workDir(ctx, 'twice');
  const withPrivate = sshPublicKeyFile(ctx, 'id_twice', true);
  const first = await run(ctx, [...allocateArgs(miner.url, withPrivate), '--hotkey', ctx.hotkeyFile], cwd);
  assert.is(first.code, 0, first.stderr);
  const stem = `allocation-${miner.hotkey.ss58Address.slice(0, 8)}`;
  assert.match(first.stdout, `key file: ${join(cwd, `${stem}.pem`)}`);
  assert.match(first.stdout, new RegExp(`^ssh -i ${join(ctx.dir, 'id_twice')} -p 2222 root@127\\.0\\.0\\.1$`, 'm'), 'the private key beside the .pub');
  // A public key with no private one beside it: ssh gets the file as given (the agent holds the key).
  const alone = sshPublicKeyFile(ctx, 'agent_only', false);
  const second = await run(ctx, [...allocateArgs(miner.url, alone), '--hotkey', ctx.hotkeyFile], cwd);
  assert.is(second.code, 0, second.stderr);
  assert.match(second.stdout, `key file: ${join(cwd, `${stem}-2.pem`)}`);
  assert.match(second.stdout, new RegExp(`^ssh -i ${alone} -p 2222 root@127\\.0\\.0\\.1$`, 'm'));
  assert.equal(readdirSync(cwd).sort(), [`${stem}-2.pem`, `${stem}.pem`]);
  // `validator rentals` prints the same ssh lines.
  const rentals = await run(ctx, ['validator', 'rentals', join(cwd, `${stem}.pem`)]);
  assert.match(rentals.stdout, `ssh -i ${join(ctx.dir, 'id_twice')} -p 2222 root@127.0.0.1`);
});

cli('an allocate without a clear answer keeps its key file and suggests a release with the --hotkey used, which works', async (ctx) => {
  const miner = await fakeMiner(ctx, (_req, intent) => {
    if (intent.kind === 'allocate') throw new Error('the engine fell over');
    return output(true);
  });
  const cwd = workDir(ctx, 'unclear');
  const r = await run(ctx, [...allocateArgs(miner.url, sshPublicKeyFile(ctx, 'unclear_ed25519', true)), '--hotkey', ctx.hotkeyFile], cwd);
  assert.is(r.code, 1, r.stderr);
  const suggested = /"(compute-miner validator release [^"]+)"/.exec(r.stderr)?.[1];
  assert.ok(suggested, r.stderr);
  assert.match(suggested!, ` --hotkey ${ctx.hotkeyFile}`);
  assert.is(readdirSync(cwd).length, 1, 'the key file is kept');
  const released = await run(ctx, suggested!.split(' ').slice(1), cwd);
  assert.is(released.code, 0, released.stderr);
  assert.match(released.stdout, /^released/);
});

cli('a second release, or one after the rental expired: "no rental for this key (released or expired?)"; the record is forgotten', async (ctx) => {
  const released = new Set<string>();
  let expired = false;
  const miner = await fakeMiner(ctx, (req, intent) => {
    if (intent.kind === 'allocate') return rented(req);
    if (expired || released.has(req.public_key!)) return output(false, { error: NOT_HOLDER });
    if (intent.kind === 'deallocate') released.add(req.public_key!);
    return output(true);
  });
  const cwd = workDir(ctx, 'release-twice');
  const pub = sshPublicKeyFile(ctx, 'twice_ed25519', true);
  const as = (...args: string[]) => run(ctx, [...args, '--hotkey', ctx.hotkeyFile], cwd);
  assert.is((await as(...allocateArgs(miner.url, pub), '--key-out', 'r.pem')).code, 0);
  assert.is((await as('validator', 'release', miner.url, '--key', 'r.pem')).code, 0);
  const twice = await as('validator', 'release', miner.url, '--key', 'r.pem');
  assert.is(twice.code, 1);
  assert.equal(twice.stderr, `error: no rental for this key on ${miner.url}/ (released or expired?)\n`);
  assert.not.match(twice.stderr, /not the holder/);
  // A rental that expired on the miner: its record goes once the miner says so.
  assert.is((await as(...allocateArgs(miner.url, pub), '--key-out', 'e.pem')).code, 0);
  const listed = async () => JSON.parse((await run(ctx, ['validator', 'rentals', '--all', '--json'])).stdout).rentals.map((r: { keyFile: string }) => r.keyFile);
  assert.ok((await listed()).includes(join(cwd, 'e.pem')));
  expired = true;
  const paused = await as('validator', 'pause', miner.url, '--key', 'e.pem');
  assert.is(paused.code, 1);
  assert.match(paused.stderr, /^error: no rental for this key on \S+ \(released or expired\?\)$/m);
  const gone = await as('validator', 'release', miner.url, '--key', 'e.pem');
  assert.match(gone.stderr, /no rental for this key/);
  assert.not.ok((await listed()).includes(join(cwd, 'e.pem')));
});

cli('--json: every millisecond field is a whole number (challenge latencyMs, p50Ms, maxMs)', async (ctx) => {
  const miner = await fakeMiner(ctx, () => output(true), [challengePlugin]);
  const r = await run(ctx, ['validator', 'challenge', miner.url, '--difficulty', '1', '--rounds', '2', '--hotkey', ctx.hotkeyFile, '--json']);
  assert.is(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.is(doc.verified, 2);
  for (const value of [doc.p50Ms, doc.maxMs, ...doc.rounds.map((x: { latencyMs: number }) => x.latencyMs)]) assert.ok(Number.isInteger(value), `${value} is whole`);
});

cli('COMPUTE_MINER_HOME holds the validator hotkey too; no file under HOME', async (ctx) => {
  const miner = await fakeMiner(ctx, () => output(true));
  const held = join(ctx.dir, 'held.pem');
  const { generateRenterKeyPair } = await import('../src/validator/credentials.js');
  writeFileSync(held, generateRenterKeyPair().privateKeyPem, { mode: 0o600 });
  const r = await run(ctx, ['validator', 'pause', miner.url, '--key', held]);
  assert.is(r.code, 0, r.stderr);
  const file = join(ctx.env.COMPUTE_MINER_HOME!, 'validator-hotkey.json');
  assert.match(r.stderr, `no hotkey at ${file}: created`);
  assert.ok(existsSync(file));
  assert.not.ok(existsSync(join(ctx.env.HOME!, '.compute-miner', 'validator-hotkey.json')));
});

cli('"miner --version" (what "npm start -- --version" runs) prints the version; the usage texts list the exit statuses', async (ctx) => {
  const r = await run(ctx, ['miner', '--version']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^compute-miner \d+\.\d+\.\d+\n$/);
  for (const args of [['--help'], ['validator', '--help'], ['validator', 'challenge', '--help'], ['validator', 'allocate', '--help']]) {
    const help = (await run(ctx, args)).stdout.replace(/\s+/g, ' ');
    assert.match(help, '3 the miner is at fault', args.join(' '));
    assert.match(help, '5 the miner does not let this validator hotkey in, 6 the miner is busy', args.join(' '));
  }
});

cli('file errors in words: no ENOENT on the screen', async (ctx) => {
  const cases = [
    allocateArgs(ctx.refusing.url, join(ctx.dir, 'missing.pub')),
    ['validator', 'release', ctx.refusing.url, '--key', join(ctx.dir, 'missing.pem')],
    ['validator', 'check', '--file', join(ctx.dir, 'missing.txt')],
  ];
  for (const args of cases) {
    const r = await run(ctx, [...args, '--hotkey', ctx.hotkeyFile]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /: no such file\n$/, args.join(' '));
    assert.not.match(r.stderr, /ENOENT/);
  }
});

cli.run();

// The pure parts: the miner's refusal log stays bounded however many callers are refused.

const bounded = suite('the refusal log');

bounded('names each hotkey and reason once a period, at most the limit, then one count', async () => {
  const { RefusalLog } = await import('../src/axon/refusal-log.js');
  const lines: { msg: string; hotkey?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const refusals = new RefusalLog(log, 60_000, 3, 0);
  const strangers = Array.from({ length: 1000 }, () => generateHotkey().ss58Address);
  for (const hotkey of strangers) refusals.refused('not_allowed', 'hotkey is not allowed', hotkey, '10.0.0.1', 'Allocate', 10);
  refusals.refused('not_allowed', 'hotkey is not allowed', strangers[0]!, '10.0.0.1', 'Allocate', 20);
  assert.is(lines.length, 3);
  assert.equal(lines.map((l) => l.hotkey), strangers.slice(0, 3));
  // The next period: the count of those not named, then names again.
  refusals.refused('not_allowed', 'hotkey is not allowed', strangers[0]!, '10.0.0.1', 'Allocate', 60_010);
  assert.is(lines.length, 5);
  assert.match(lines[3]!.msg, /^axon: 997 more refusals/);
  assert.is(lines[4]!.hotkey, strangers[0]);
});

bounded('errno codes and millisecond fields, as the command line prints them', async () => {
  const { explainErrnoCodes, fileErrorWords } = await import('../src/errno-words.js');
  const { jsonDocument } = await import('../src/commands/json-output.js');
  assert.is(explainErrnoCodes("ENOENT: no such file or directory, open '/x/y.pem'"), '/x/y.pem: no such file');
  assert.is(explainErrnoCodes('cannot create /x: EACCES'), 'cannot create /x: permission denied');
  assert.is(fileErrorWords(Object.assign(new Error('x'), { code: 'EISDIR' })), 'it is a folder');
  assert.equal(JSON.parse(jsonDocument({ latencyMs: 6387.257280999999, total_ms: 12.5, steps: [{ ms: 0.4 }], seconds: 1.25 })), { latencyMs: 6387, total_ms: 13, steps: [{ ms: 0 }], seconds: 1.25 });
});

bounded.run();
