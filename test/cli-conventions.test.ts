// The command line follows conventions: -h/--help on every command and subcommand, --version,
// --json as one document on stdout, human units, "did you mean", exit 2 for the mistakes
// people make most (one line, nothing sent), network failures in words, a new identity
// announced. The pure parts are checked as functions; the rest by running the CLI.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { closestOption, parseFlags } from '../src/args.js';
import { explainNetworkError } from '../src/commands/net-errors.js';
import { humanBytes, humanDuration, humanizeByteCounts } from '../src/units.js';
import { CLI, cleanupCliMiners, healthy, spawnCliMiner, type CliMiner } from './helpers/cli-miner.js';
import { freePort, requireDocker, testRun, type TestRun } from './helpers/docker.js';
import { output, startFakeMiner } from './helpers/miner-fakes.js';
import type { TestAxon } from './helpers/axon.js';
import { sshKeyPair } from './helpers/ssh-keys.js';

// --- pure parts ---------------------------------------------------------------------------

const pure = suite('flags, units and messages');

pure('near-miss flags get "did you mean", synonyms included', () => {
  const known = ['cpu', 'ram', 'disk', 'gpu', 'days', 'ssh-key', 'key-out', 'port', 'timeout'];
  assert.is(closestOption('cores', known), 'cpu');
  assert.is(closestOption('memory', known), 'ram');
  assert.is(closestOption('prot', known), 'port');
  assert.is(closestOption('ssh-kye', known), 'ssh-key');
  assert.is(closestOption('dasy', known), 'days');
  assert.is(closestOption('colour', known), undefined);
});

pure('a value may start with "-" so the command checks it; a flag where a value belongs is a missing value', () => {
  const opts = { days: { type: 'string' }, cpu: { type: 'string' }, force: { type: 'boolean' } } as const;
  assert.is(parseFlags(['--days', '-1'], opts).values.days, '-1');
  assert.throws(() => parseFlags(['--cpu', '--days', '1'], opts), /^--cpu needs a value$/);
  assert.throws(() => parseFlags(['--days'], opts), /^--days needs a value$/);
  assert.throws(() => parseFlags(['--force=yes'], opts), /^--force takes no value$/);
  assert.throws(() => parseFlags(['--cores', '2'], opts), /^unknown option --cores \(did you mean --cpu\?\); see --help$/);
  assert.throws(() => parseFlags(['x'], opts, { positionals: false }), /unexpected argument "x"/);
  assert.equal(parseFlags(['--cores', '2', '-h'], opts).values, { help: true }, 'help wins over mistakes');
  assert.equal(parseFlags(['--', '-h'], opts).positionals, ['-h'], 'after "--" nothing is a flag');
});

pure('sizes and durations in units people read', () => {
  assert.is(humanBytes(107374182400), '100 GiB');
  assert.is(humanBytes(1610612736), '1.5 GiB');
  assert.is(humanBytes(536870912), '512 MiB');
  assert.is(humanBytes(1000), '1000 B');
  assert.is(humanDuration(90061), '1 d 1 h');
  assert.is(humanDuration(3720), '1 h 2 min');
  assert.is(humanDuration(42), '42 s');
  assert.is(humanizeByteCounts('insufficient memory: 107374182400 bytes requested, 8589934592 available'), 'insufficient memory: 100 GiB requested, 8 GiB available');
  assert.is(humanizeByteCounts('port 4444 is busy'), 'port 4444 is busy');
});

pure('network failures say what to do, without Node\'s codes', () => {
  const refused = explainNetworkError('cannot connect to ws://127.0.0.1:9999/: connect ECONNREFUSED 127.0.0.1:9999');
  assert.is(refused, 'cannot connect to ws://127.0.0.1:9999/: nothing is listening there (is the miner running, and is this its --port?)');
  const ssh = explainNetworkError('cannot reach http://127.0.0.1:22/health to learn the miner\'s hotkey: HPE_INVALID_CONSTANT');
  assert.not.match(ssh, /HPE_/);
  assert.match(ssh, /not a miner's axon/);
});

pure.run();

// --- the CLI, run ---------------------------------------------------------------------------

interface Ctx {
  dir: string;
  env: NodeJS.ProcessEnv;
  docker: Dockerode;
  run: TestRun;
  miners: CliMiner[];
  miner: CliMiner;
  yes: TestAxon;
  banner: Server;
  bannerPort: number;
}
const cli = suite<Ctx>('compute-miner command line');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(ctx: Ctx, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ctx.dir, env: ctx.env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

cli.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'cli-conventions-'));
  // A home of the test's own: the validator's hotkey and the rentals records land there.
  ctx.env = { ...process.env, HOME: ctx.dir, COMPUTE_MINER_HOME: join(ctx.dir, '.compute-miner') };
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'conv');
  ctx.miners = [];
  ctx.miner = await spawnCliMiner(ctx.run, 'm');
  ctx.miners.push(ctx.miner);
  ctx.yes = await startFakeMiner(() => output(true));
  // What an SSH port says: not HTTP.
  ctx.banner = createServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
  await new Promise<void>((r) => ctx.banner.listen(0, '127.0.0.1', () => r()));
  ctx.bannerPort = (ctx.banner.address() as { port: number }).port;
  await healthy(ctx.miner);
});

cli.after(async (ctx) => {
  ctx.banner?.close();
  await ctx.yes?.close();
  await cleanupCliMiners(ctx.docker, ctx.miners ?? []);
  await ctx.run?.cleanup();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

const COMMANDS = [
  [], ['miner'], ['keygen'], ['status'], ['service'], ['service', 'install'], ['service', 'uninstall'], ['service', 'status'], ['validator'],
  ...['specs', 'challenge', 'check', 'allocate', 'release', 'pause', 'resume', 'restart', 'exchange-key', 'rentals'].map((c) => ['validator', c]),
];

/** Runs every argument list, a few processes at a time, in order of the lists. */
async function runAll(ctx: Ctx, lists: string[][], width = 4): Promise<Result[]> {
  const results: Result[] = new Array(lists.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    for (let i = next++; i < lists.length; i = next++) results[i] = await run(ctx, lists[i]!);
  }));
  return results;
}

cli('every command and subcommand answers -h and --help on stdout with exit 0, even after a mistake', async (ctx) => {
  const lists = COMMANDS.flatMap((command, i) => [[...command, '-h'], ...(i % 3 === 0 ? [[...command, '--help']] : [])]);
  const results = await runAll(ctx, lists);
  lists.forEach((args, i) => {
    const r = results[i]!;
    assert.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: compute-miner/, args.join(' '));
    assert.is(r.stderr, '');
  });
  const late = await run(ctx, ['validator', 'allocate', '--cores', '2', '-h']);
  assert.is(late.code, 0);
  assert.match(late.stdout, /--cpu N/);
  // The miner's warm containers: how many per host, the default said.
  const miner = results[lists.findIndex((l) => l.length === 2 && l[0] === 'miner' && l[1] === '-h')]!;
  assert.match(miner.stdout, /--standby N +warm containers kept started per host/);
  assert.match(miner.stdout, /0 turns it off \[1\]/);
});

cli('--version prints the package version; no command is a usage error on stderr', async (ctx) => {
  const v = await run(ctx, ['--version']);
  assert.is(v.code, 0);
  assert.match(v.stdout, /^compute-miner \d+\.\d+\.\d+\n$/);
  const none = await run(ctx, []);
  assert.is(none.code, 2);
  assert.is(none.stdout, '');
  assert.match(none.stderr, /^Usage:/);
});

/** One JSON document on stdout, nothing else there. */
function json(r: Result): any {
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

cli('--json is one JSON document on stdout for every command that prints results', async (ctx) => {
  const url = `ws://127.0.0.1:${ctx.miner.port}`;
  const specs = json(await run(ctx, ['validator', 'specs', url, '--json']));
  assert.type(specs.cpu.count, 'number');
  const challenge = json(await run(ctx, ['validator', 'challenge', url, '--difficulty', '2', '--rounds', '2', '--json']));
  assert.is(challenge.verified, 2);
  assert.is(challenge.rounds.length, 2);
  const status = json(await run(ctx, ['status', `127.0.0.1:${ctx.miner.port}`, '--json']));
  assert.is(status.docker.reachable, true);
  assert.equal(status.rentals, []);
  assert.type(status.hotkey, 'string');
  const rentals = json(await run(ctx, ['validator', 'rentals', '--json']));
  assert.equal(rentals, { rentals: [] });
  const key = json(await run(ctx, ['keygen', '--out', join(ctx.dir, 'k.json'), '--json']));
  assert.is(key.file, join(ctx.dir, 'k.json'));
  const checked = await run(ctx, ['validator', 'check', `ws://127.0.0.1:${ctx.bannerPort}`, '--timeout', '10', '--json']);
  assert.is(checked.code, 3, 'a penalised miner is still exit 3');
  const check = JSON.parse(checked.stdout);
  assert.is(check.results[0].verdict, 'ALLOCATION_ERROR');
  assert.is(check.penalised.length, 1);
  // A holder action against a miner that says yes (a key file of the right shape is enough).
  const { privateKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }));
  writeFileSync(join(ctx.dir, 'held.pem'), privateKey, { mode: 0o600 });
  const paused = json(await run(ctx, ['validator', 'pause', ctx.yes.url, '--key', join(ctx.dir, 'held.pem'), '--json']));
  assert.equal(paused, { command: 'pause', status: true, done: 'paused' });
  const service = JSON.parse((await run(ctx, ['service', 'status', '--unit-dir', ctx.dir, '--json'])).stdout);
  assert.is(service.installed, false);
  // Text output of the same: units, not bytes.
  const text = await run(ctx, ['validator', 'specs', url]);
  assert.match(text.stdout, /^memory {2}[\d.]+ GiB total/m);
  assert.not.match(text.stdout, /\d{7,}/, 'no raw byte counts');
});

cli('the ten most likely mistakes: one line each, exit 2, nothing sent', async (ctx) => {
  const url = `ws://127.0.0.1:${ctx.miner.port}`;
  const pub = join(ctx.dir, 'user.pub');
  writeFileSync(pub, `${sshKeyPair('u').public}\n`);
  const priv = join(ctx.dir, 'id_ed25519');
  writeFileSync(priv, '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
  const rent = (...extra: string[]) => ['validator', 'allocate', url, '--ram', '1g', '--disk', '1g', '--ssh-key', pub, ...extra];
  const mistakes: [string[], RegExp][] = [
    [rent('--cores', '2', '--days', '1'), /^error: unknown option --cores \(did you mean --cpu\?\)/],
    [['validator', 'allocate', url, '--cpu', '1', '--memory', '4g', '--disk', '1g', '--days', '1', '--ssh-key', pub], /did you mean --ram\?/],
    [rent('--cpu', '1', '--days', '-1'), /^error: --days must be a number > 0 and ≤ \d+, not "-1"$/m],
    [['validator', 'allocate', url, '--cpu', '1', '--ram', '4x', '--disk', '1g', '--days', '1', '--ssh-key', pub], /"4x" is not a size/],
    [['validator', 'allocate', url, '--cpu', '--ram', '1g', '--disk', '1g', '--days', '1', '--ssh-key', pub], /^error: --cpu needs a value$/m],
    [['validator', 'allocate', '--cpu', '1', '--ram', '1g', '--disk', '1g', '--days', '1', '--ssh-key', pub], /exactly one miner URL/],
    [['validator', 'specs', '127.0.0.1'], /the port is missing/],
    [rent('--cpu', '1', '--days', '1').map((a) => (a === pub ? priv : a)), /is a private key; give the public one/],
    [['validatr', 'specs'], /^error: unknown command "validatr" \(did you mean "validator"\?\)/],
    [['miner', '--prot', '8091'], /^error: unknown option --prot \(did you mean --port\?\)/],
    [['miner', '--allow-any=yes'], /^error: --allow-any takes no value$/m],
    [['miner', '--standby', '17'], /^error: --standby must be 0–16, not 17$/m],
    [['miner', '--standby', 'some'], /^error: --standby must be a whole number, not "some"$/m],
    [['keygen', '--out', join(ctx.dir, 'k.json')], /exists; pass --force/],
    [['service', 'instal'], /did you mean "install"\?/],
    [['miner', '--hosts', join(ctx.dir, 'no-hosts.json')], /^error: --hosts \S+no-hosts\.json: cannot read the hosts file: no such file$/m],
  ];
  const before = (await (await fetch(`http://127.0.0.1:${ctx.miner.port}/status.json`)).json()).requests.points.reduce((a: number, p: { requests: number }) => a + p.requests, 0);
  const results = await runAll(ctx, mistakes.map(([args]) => args));
  for (const [i, [args, message]] of mistakes.entries()) {
    const r = results[i]!;
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.is(r.stdout, '');
  }
  const after = (await (await fetch(`http://127.0.0.1:${ctx.miner.port}/status.json`)).json()).requests.points.reduce((a: number, p: { requests: number }) => a + p.requests, 0);
  assert.is(after, before, 'no request reached the miner');
});

cli('connection failures in words (no ECONNREFUSED, no HPE_INVALID_CONSTANT), exit 1', async (ctx) => {
  const closed = await freePort();
  const axonKey = ctx.yes.hotkey.ss58Address;
  for (const [target, message] of [
    [`127.0.0.1:${closed}`, /nothing is listening there/],
    [`127.0.0.1:${ctx.bannerPort}`, /not a miner's axon/],
  ] as const) {
    for (const args of [['validator', 'specs', target], ['validator', 'specs', target, '--axon-hotkey', axonKey], ['status', target]]) {
      const r = await run(ctx, args);
      assert.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.not.match(r.stderr, /ECONNREFUSED|HPE_|Parse Error/);
    }
  }
});

cli('a --hotkey that does not exist: a new identity, announced on stderr with its address', async (ctx) => {
  const file = join(ctx.dir, 'new-validator.json');
  const r = await run(ctx, ['validator', 'specs', `ws://127.0.0.1:${ctx.miner.port}`, '--hotkey', file, '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`no hotkey at ${file}: created a new validator identity there, address 5[1-9A-HJ-NP-Za-km-z]{47}`));
  assert.ok(existsSync(file));
  JSON.parse(r.stdout);
  const again = await run(ctx, ['validator', 'specs', `ws://127.0.0.1:${ctx.miner.port}`, '--hotkey', file, '--json']);
  assert.is(again.stderr, '', 'said once, when it is created');
});

cli.run();
