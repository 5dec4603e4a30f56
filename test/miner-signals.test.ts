// The miner process: SIGHUP re-reads the validators file (a bad file keeps the list in force),
// SIGTERM stops it cleanly, without a validators file SIGHUP stops it too; bad flags are one line.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { fromKeyFile, generateHotkey, type Hotkey } from '../protocol/index.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { sweepLabelled } from './helpers/cli-miner.js';
import { freePort, requireDocker, testRun, type TestRun } from './helpers/docker.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.js');

interface Ctx {
  docker: Dockerode;
  run: TestRun;
  miners: { child: ChildProcess; dataDir: string }[];
}
const signals = suite<Ctx>('miner signals and validators file');

signals.before(async (ctx) => {
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'sig');
  ctx.miners = [];
});

signals.after(async (ctx) => {
  for (const { child, dataDir } of ctx.miners) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    // The CLI miner labels its containers with its own hotkey (the standby, here); a miner
    // that died before writing its hotkey made none, and must not stop the others' cleanup.
    const owner = (() => {
      try { return fromKeyFile(readFileSync(join(dataDir, 'hotkey.json'), 'utf8')).ss58Address; } catch { return null; }
    })();
    if (owner) await sweepLabelled(ctx.docker, `compute-miner.owner=${owner}`);
  }
  await ctx.run?.cleanup();
});

async function startMiner(ctx: Ctx, name: string, access: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; port: number; dataDir: string }> {
  const dataDir = join(ctx.run.dataDir, name);
  mkdirSync(dataDir);
  const port = await freePort();
  const child = spawn(process.execPath, [
    CLI, 'miner', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port), '--ssh-port', String(await freePort()),
    '--ssh-bind', '127.0.0.1', '--name-prefix', `${ctx.run.namePrefix}${name}-`, '--log-format', 'json', ...access,
  ], { stdio: ['ignore', 'ignore', process.env.CM_DEBUG_STDERR ? 'inherit' : 'ignore'], env });
  ctx.miners.push({ child, dataDir });
  if (process.env.CM_DEBUG_STDERR) child.on('exit', (code, signal) => process.stderr.write(`miner ${name} exited: ${code} ${signal}\n`));
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`the miner exited with ${child.exitCode}`);
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) return { child, port, dataDir };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the miner did not answer /health');
}

async function specsCode(port: number, hotkey: Hotkey): Promise<number> {
  const dendrite = new Dendrite({ hotkey, url: `ws://127.0.0.1:${port}`, timeoutMs: 10_000 });
  try {
    return (await dendrite.call('Specs', {})).code;
  } finally {
    await dendrite.close();
  }
}

const exited = (child: ChildProcess) => new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

signals('SIGHUP re-reads the validators file; a bad file keeps the previous list; SIGTERM stops', async (ctx) => {
  const a = generateHotkey();
  const b = generateHotkey();
  const file = join(ctx.run.dataDir, 'validators.txt');
  writeFileSync(file, `# first list\n${a.ss58Address} 100\n`);
  const { child, port } = await startMiner(ctx, 'hup', ['--validators', file]);
  assert.is(await specsCode(port, a), 200);
  assert.is(await specsCode(port, b), 403);

  writeFileSync(file, `${b.ss58Address}\n!${a.ss58Address}\n`);
  child.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 500));
  assert.is(await specsCode(port, b), 200, 'the new list lets b in');
  assert.is(await specsCode(port, a), 403, 'and denies a');

  writeFileSync(file, `${b.ss58Address}\nnot-an-address\n`);
  child.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 500));
  assert.is(child.exitCode, null, 'a bad file does not stop the miner');
  assert.is(await specsCode(port, b), 200, 'the previous list stays in force');
  assert.is(await specsCode(port, a), 403);

  const code = exited(child);
  child.kill('SIGTERM');
  assert.is(await code, 0);
});

signals('without a validators file, SIGHUP stops the miner like SIGTERM (a miner signing with Node\'s built-in Ed25519)', async (ctx) => {
  // This miner signs and verifies with Node's built-in, this test's client with libsodium.
  const { child, port } = await startMiner(ctx, 'plain', ['--allow-any'], { ...process.env, COMPUTE_MINER_ED25519: 'node' });
  assert.is(await specsCode(port, generateHotkey()), 200);
  const code = exited(child);
  child.kill('SIGHUP');
  assert.is(await code, 0);
});

signals('a validators file that does not parse stops the start with its line number', async (ctx) => {
  const file = join(ctx.run.dataDir, 'bad-validators.txt');
  writeFileSync(file, `${generateHotkey().ss58Address}\n5NotAnAddress 10\n`);
  const dataDir = join(ctx.run.dataDir, 'bad');
  const child = spawn(process.execPath, [CLI, 'miner', '--data-dir', dataDir, '--port', String(await freePort()), '--validators', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const code = await exited(child);
  assert.is.not(code, 0);
  assert.match(stderr, /--validators .*bad-validators\.txt: line 2/);
  assert.not.match(stderr, /\n\s+at /, 'no stack trace');
});

signals('a bad flag is one line on stderr, exit status 2, and nothing is created', async (ctx) => {
  const dataDir = join(ctx.run.dataDir, 'never');
  for (const flags of [['--port', 'abc'], ['--ssh-bind', 'example.com'], ['--no-such-flag']]) {
    const child = spawn(process.execPath, [CLI, 'miner', '--data-dir', dataDir, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    assert.is(await exited(child), 2, flags.join(' '));
    assert.is(stderr.trim().split('\n').length, 1, `one line for ${flags.join(' ')}: ${stderr}`);
    assert.match(stderr, /^error: /);
  }
  assert.not.ok(existsSync(dataDir), 'no data dir, no hotkey');
});

signals('an unknown COMPUTE_MINER_ED25519 is one line, exit status 2, and nothing is created', async (ctx) => {
  const dataDir = join(ctx.run.dataDir, 'never-signs');
  const env = { ...process.env, COMPUTE_MINER_ED25519: 'openssl' };
  const child = spawn(process.execPath, [CLI, 'miner', '--data-dir', dataDir, '--port', String(await freePort())], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  assert.is(await exited(child), 2);
  assert.is(stderr, 'error: COMPUTE_MINER_ED25519: unknown Ed25519 implementation "openssl" (libsodium or node)\n');
  assert.not.ok(existsSync(dataDir), 'no data dir, no hotkey');
});

signals.run();
