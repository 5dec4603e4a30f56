// The validator's and renter's commands as a person runs them: `node dist/src/cli.js validator
// ...` against a real miner on the real Docker daemon. check prints OK with timings and writes
// the penalised list; allocate keeps a 0600 key file and prints a working ssh line and
// password; the key file then pauses, resumes, restarts, exchanges keys and releases. Typing
// mistakes get one line and exit 2, and change nothing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sshRun } from './helpers/docker.js';
import { sshKeyPair } from './helpers/ssh-keys.js';
import { rentedContainers, startTestMiner, type TestMiner } from './helpers/miner.js';
import { output, startFakeMiner } from './helpers/miner-fakes.js';
import type { TestAxon } from './helpers/axon.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

interface Ctx {
  miner: TestMiner;
  refusing: TestAxon;
  dir: string;
}
const cli = suite<Ctx>('validator CLI');

cli.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'validator-cli-'));
  ctx.miner = await startTestMiner({ area: 'cli' });
  ctx.refusing = await startFakeMiner(() => output(false, { error: 'the base image is missing' }));
});

cli.after(async (ctx) => {
  await ctx.refusing?.close();
  await ctx.miner?.close();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(ctx: Ctx, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'validator', ...args, '--hotkey', join(ctx.dir, 'validator.json')], { cwd: ctx.dir, timeout: 120_000, env: { ...process.env, COMPUTE_MINER_HOME: join(ctx.dir, 'renter-home') } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const containers = (ctx: Ctx) => rentedContainers(ctx.miner);

cli('check: OK with timings for a working miner, ALLOCATION_FAILED for a refusing one, the penalised list and the report written', async (ctx) => {
  const json = join(ctx.dir, 'penalised.json');
  const reportFile = join(ctx.dir, 'report.json');
  const r = await run(ctx, ['check', ctx.miner.url, ctx.refusing.url, '--ram', '256m', '--timeout', '60', '--penalised', json, '--report', reportFile]);
  assert.is(r.code, 3, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /^MINER\s+HOTKEY\s+VERDICT\s+CHECK\s+ALLOCATE\s+SSH\s+PROOF\s+RELEASE\s+TOTAL\s+REASON$/);
  const ok = lines.find((l) => l.startsWith(`${ctx.miner.url}/`))!;
  assert.match(ok, /\sOK\s+\d+ms\s+\d+ms\s+\d+ms\s+\d+ms\s+\d+ms\s+\d+ms\s/);
  const refused = lines.find((l) => l.startsWith(`${ctx.refusing.url}/`))!;
  assert.match(refused, /\sALLOCATION_FAILED\s+\d+ms✗\s+-\s+-\s+-\s+-\s+\d+ms\s+check: the base image is missing$/);
  // The report: one object per miner, in the order given, with the field names.
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Record<string, any>[];
  assert.equal(report.map((e) => [e.url, e.verdict]), [[`${ctx.miner.url}/`, 'OK'], [`${ctx.refusing.url}/`, 'ALLOCATION_FAILED']]);
  const honest = report[0]!;
  assert.is(honest.hotkey, ctx.miner.hotkeySs58);
  assert.equal(Object.keys(honest.measured).sort(), ['cores', 'detail', 'disk_bytes', 'gpus', 'memory_bytes']);
  assert.is(honest.measured.cores, 1);
  assert.is(honest.measured.memory_bytes, 256 * 1024 * 1024);
  assert.equal(honest.measured.gpus, []);
  assert.is(honest.proof.ok, true);
  assert.ok(honest.proof.seconds > 0 && honest.proof.seconds < honest.proof.limit_seconds);
  assert.match(honest.proof.gpu.reason, /^no GPU in the rental/);
  assert.equal(honest.steps.map((s: { step: string }) => s.step), ['specs', 'check', 'allocate', 'ssh', 'proof', 'deallocate']);
  assert.is(report[1]!.measured, null);
  assert.is(report[1]!.proof, null);
  assert.match(r.stdout, /1 OK, 1 penalised/);
  assert.equal(JSON.parse(readFileSync(json, 'utf8')), [
    { hotkey: ctx.refusing.hotkey.ss58Address, url: `${ctx.refusing.url}/`, status_code: 'ALLOCATION_FAILED', description: 'check: the base image is missing' },
  ]);
  assert.is((await containers(ctx)).length, 0);
});

cli('check --file: miners with their hotkeys; a wrong hotkey is ALLOCATION_ERROR; exit 0 only when all are OK', async (ctx) => {
  const file = join(ctx.dir, 'miners.txt');
  writeFileSync(file, `# test miners\n${ctx.miner.url} ${ctx.miner.hotkeySs58}\n`);
  const good = await run(ctx, ['check', '--file', file, '--ram', '256m']);
  assert.is(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /1 OK, 0 penalised/);
  writeFileSync(file, `${ctx.miner.url} ${ctx.refusing.hotkey.ss58Address}\n`);
  const wrong = await run(ctx, ['check', '--file', file, '--ram', '256m']);
  assert.is(wrong.code, 3);
  assert.match(wrong.stdout, /ALLOCATION_ERROR.*signed by/);
});

cli('allocate → ssh with the printed password and with the key → pause, resume, restart, exchange-key → release', async (ctx) => {
  const user = sshKeyPair('user');
  const userFile = join(ctx.dir, 'user.pub');
  writeFileSync(userFile, `${user.public}\n`);
  const keyFile = join(ctx.dir, 'rent.pem');
  try {
    const r = await run(ctx, ['allocate', ctx.miner.url, '--cpu', '1', '--ram', '256m', '--disk', '1g', '--days', '0.01', '--ssh-key', userFile, '--key-out', keyFile]);
    assert.is(r.code, 0, r.stderr);
    const sshLine = /^ssh (?:-o \S+ )*-i (\S+) -p (\d+) root@127\.0\.0\.1$/m.exec(r.stdout);
    const password = /^password: (\S+)$/m.exec(r.stdout)?.[1];
    assert.ok(sshLine && password, r.stdout);
    assert.is(sshLine![1], userFile, 'the --ssh-key given (no private key beside it here)');
    const port = Number(sshLine![2]);
    assert.is(port, ctx.miner.sshPort);
    assert.match(r.stdout, `key file: ${keyFile}`);
    assert.is(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(keyFile, 'utf8'), /BEGIN PRIVATE KEY/);
    assert.is((await sshRun(port, { password: password! }, 'echo in')).trim(), 'in');
    assert.is((await sshRun(port, { privateKey: user.private }, 'echo key')).trim(), 'key');

    // A second allocate must not overwrite the key file that holds this one.
    const again = await run(ctx, ['allocate', ctx.miner.url, '--cpu', '1', '--ram', '256m', '--disk', '1g', '--days', '0.01', '--ssh-key', userFile, '--key-out', keyFile]);
    assert.is(again.code, 2);
    assert.match(again.stderr, /already exists/);

    const state = async () => (await containers(ctx))[0]?.State;
    for (const [command, word, expected] of [['pause', 'paused', 'paused'], ['resume', 'resumed', 'running'], ['restart', 'restarted', 'running']] as const) {
      const a = await run(ctx, [command, ctx.miner.url, '--key', keyFile]);
      assert.is(a.code, 0, a.stderr);
      assert.is(a.stdout.trim(), word);
      assert.is(await state(), expected);
    }
    const terminal = sshKeyPair('terminal');
    const terminalFile = join(ctx.dir, 'terminal.pub');
    writeFileSync(terminalFile, `${terminal.public}\n`);
    const x = await run(ctx, ['exchange-key', ctx.miner.url, '--key', keyFile, '--ssh-key', terminalFile, '--terminal']);
    assert.is(x.code, 0, x.stderr);
    assert.is((await sshRun(port, { privateKey: terminal.private }, 'echo t')).trim(), 't');
    assert.is((await sshRun(port, { privateKey: user.private }, 'echo u')).trim(), 'u');

    // Someone else's key file is not the holder.
    const stranger = join(ctx.dir, 'stranger.pem');
    const { generateRenterKeyPair } = await import('../src/validator/credentials.js');
    writeFileSync(stranger, generateRenterKeyPair().privateKeyPem, { mode: 0o600 });
    const denied = await run(ctx, ['release', ctx.miner.url, '--key', stranger]);
    assert.is(denied.code, 1);
    assert.equal(denied.stderr.trim().split('\n'), [`error: no rental for this key on ${ctx.miner.url}/ (released or expired?)`]);
    assert.is((await containers(ctx)).length, 1);

    const released = await run(ctx, ['release', ctx.miner.url, '--key', keyFile]);
    assert.is(released.code, 0, released.stderr);
    assert.match(released.stdout, /^released/);
    assert.is((await containers(ctx)).length, 0);
    const twice = await run(ctx, ['release', ctx.miner.url, '--key', keyFile]);
    assert.is(twice.code, 1);
    assert.equal(twice.stderr, `error: no rental for this key on ${ctx.miner.url}/ (released or expired?)\n`);
  } finally {
    if (existsSync(keyFile)) await run(ctx, ['release', ctx.miner.url, '--key', keyFile]);
  }
});

cli('a refused allocate removes its unused key file and says why in one line', async (ctx) => {
  const userFile = join(ctx.dir, 'user2.pub');
  writeFileSync(userFile, `${sshKeyPair().public}\n`);
  const keyFile = join(ctx.dir, 'refused.pem');
  const r = await run(ctx, ['allocate', ctx.refusing.url, '--cpu', '1', '--ram', '256m', '--disk', '1g', '--days', '1', '--ssh-key', userFile, '--key-out', keyFile]);
  assert.is(r.code, 1);
  assert.equal(r.stderr.trim().split('\n'), ['error: the miner refused: the base image is missing']);
  assert.not.ok(existsSync(keyFile));
});

cli('typing mistakes: one line on stderr, exit 2, no stack trace, no key file, nothing allocated', async (ctx) => {
  const pub = join(ctx.dir, 'ok.pub');
  writeFileSync(pub, `${sshKeyPair().public}\n`);
  const priv = join(ctx.dir, 'id_private');
  writeFileSync(priv, sshKeyPair().private);
  const url = ctx.miner.url;
  const base = ['--cpu', '1', '--ram', '1g', '--disk', '1g', '--days', '1', '--ssh-key', pub];
  const cases: [string[], RegExp][] = [
    [['allocate', url, ...base.slice(0, 3), '4x', ...base.slice(4)], /--ram: "4x" is not a size/],
    [['allocate', url, '--cpu', '0', ...base.slice(2)], /--cpu must be a whole number/],
    [['allocate', url, '--cpu', 'two', ...base.slice(2)], /--cpu must be a whole number/],
    [['allocate', url, ...base.slice(0, 6)], /--days is required/],
    [['allocate', url, ...base.slice(0, 6), '--days', '-1', '--ssh-key', pub], /--days/],
    [['allocate', url, ...base.slice(0, 6), '--days', '0', '--ssh-key', pub], /--days must be a number > 0/],
    [['allocate', url, ...base.slice(0, 8)], /--ssh-key is required/],
    [['allocate', url, ...base.slice(0, 8), '--ssh-key', join(ctx.dir, 'missing.pub')], /cannot read the SSH key .*: no such file$/],
    [['allocate', url, ...base.slice(0, 8), '--ssh-key', priv], /is a private key/],
    [['allocate', url, ...base, '--gpu', 'x'], /--gpu must be a count or "all"/],
    [['allocate', url, '--cpu', '1', '--ram', '1m', ...base.slice(4)], /--ram must be at least 64 MiB/],
    [['allocate', ...base], /exactly one miner URL/],
    [['allocate', 'not a url', ...base], /is not a URL|port is missing/],
    [['allocate', url, ...base, '--bogus'], /unknown option --bogus/],
    [['release', url], /--key is required/],
    [['release', url, '--key', join(ctx.dir, 'missing.pem')], /cannot read the key file .*: no such file$/],
    [['release', url, '--key', pub], /is not a PEM private key/],
    [['exchange-key', url, '--key', pub], /is not a PEM private key|--ssh-key is required/],
    [['check'], /no miners to check/],
    [['check', url, '--concurrency', '0'], /--concurrency must be a whole number/],
    [['check', url, '--timeout', 'soon'], /--timeout must be seconds/],
    [['check', url, '--cpu', '0'], /--cpu must be a whole number from 1/],
    [['check', url, '--gpu', 'two'], /--gpu must be a whole number from 1 to 64/],
    [['check', url, '--disk', '1x'], /--disk: "1x" is not a size/],
    [['check', url, '--file', join(ctx.dir, 'missing.txt')], /cannot read .*: no such file$/],
    [['frobnicate'], /unknown validator command "frobnicate"/],
  ];
  const before = readdirSync(ctx.dir).sort();
  for (const [args, expected] of cases) {
    const r = await run(ctx, args);
    const label = args.join(' ');
    assert.is(r.code, 2, `${label}: exit ${r.code} ${r.stderr}`);
    assert.is(r.stdout, '', label);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0]!, /^error: /, label);
    assert.match(lines[0]!, expected, label);
    assert.not.match(r.stderr, /\n\s+at /, label);
    if (args[0] !== 'frobnicate') assert.is(lines.length, 1, `${label}: ${r.stderr}`);
  }
  assert.equal(readdirSync(ctx.dir).filter((f) => f !== 'validator.json').sort(), before.filter((f) => f !== 'validator.json'));
  assert.is((await containers(ctx)).length, 0);
});

cli.run();
