// Safe start-up with two real miner processes: a second miner on the same data dir exits
// with the holder's PID before it touches Docker, and the first keeps its warm container
// (the standby) and serves allocations from it; a second miner on a port in use also leaves Docker alone; a killed
// holder's lock is gone at once (the kernel drops it).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { requireDocker, testRun, type TestRun } from './helpers/docker.js';
import { CLI, cleanupCliMiners, healthy, spawnCliMiner, stopCliMiner, type CliMiner } from './helpers/cli-miner.js';
import { sshKeyPair } from './helpers/ssh-keys.js';
import { until } from './helpers/wait.js';

interface Ctx {
  docker: Dockerode;
  run: TestRun;
  miners: CliMiner[];
}
const lock = suite<Ctx>('one miner per data dir');

lock.before(async (ctx) => {
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'lock');
  ctx.miners = [];
});

lock.after(async (ctx) => {
  await cleanupCliMiners(ctx.docker, ctx.miners ?? []);
  await ctx.run?.cleanup();
});

const byPrefix = async (ctx: Ctx, prefix: string) =>
  (await ctx.docker.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.startsWith(`/${prefix}`)));

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

lock('a second miner on the same data dir names the holder\'s PID and exits; the first keeps its standby and serves an allocation', async (ctx) => {
  const first = await spawnCliMiner(ctx.run, 'first');
  ctx.miners.push(first);
  await healthy(first, (h) => h.allocation?.standby === true);
  const [standby] = await byPrefix(ctx, first.namePrefix);
  assert.ok(standby, 'the first miner has a standby container');
  const hotkey = /^miner hotkey (\S+) listening/.exec(first.stdout())?.[1];
  assert.ok(hotkey, first.stdout());
  assert.is(first.stderr().split(hotkey!).length - 1, 1, `the log says the hotkey once: ${first.stderr()}`);
  assert.match(first.stderr(), /"msg":"containers reconciled"/);
  await until('the warm container announced in the log', async () => /"msg":"warm container started/.test(first.stderr()), 5000);

  // Same data dir and name prefix, another port: the mistake the lock exists for.
  const second = await spawnCliMiner(ctx.run, 'first', { dataDir: first.dataDir });
  ctx.miners.push(second);
  const code = await second.exited;
  assert.is(code, 4, second.stderr());
  assert.match(second.stderr(), new RegExp(`in use by another miner \\(PID ${first.child.pid}, axon port ${first.port}\\)`));
  assert.is(second.stderr().trim().split('\n').length, 1, `one line: ${second.stderr()}`);
  assert.not.match(second.stderr(), /EADDRINUSE|\n\s+at /);

  const after = await byPrefix(ctx, first.namePrefix);
  assert.equal(after.map((c) => [c.Id, c.State]), [[standby!.Id, 'running']], 'the standby is the same container, still running');
  assert.is(first.child.exitCode, null);

  // The first miner still allocates, from that standby.
  const home = join(ctx.run.dataDir, 'home');
  const user = sshKeyPair('user');
  writeFileSync(join(ctx.run.dataDir, 'user.pub'), `${user.public}\n`);
  const env = { ...process.env, HOME: home, COMPUTE_MINER_HOME: join(home, '.compute-miner') };
  const keyFile = join(ctx.run.dataDir, 'rent.pem');
  const rent = await cli(['validator', 'allocate', `ws://127.0.0.1:${first.port}`, '--cpu', '1', '--ram', '256m', '--disk', '1g', '--days', '0.01', '--ssh-key', join(ctx.run.dataDir, 'user.pub'), '--key-out', keyFile], env);
  assert.is(rent.code, 0, rent.stderr);
  const rented = await byPrefix(ctx, first.namePrefix);
  assert.is(rented.length, 1);
  assert.is(rented[0]!.Id, standby!.Id, 'the rental claimed the untouched standby');
  const release = await cli(['validator', 'release', `ws://127.0.0.1:${first.port}`, '--key', keyFile], env);
  assert.is(release.code, 0, release.stderr);
});

lock('a miner whose port is taken exits with a clear line and never touches Docker', async (ctx) => {
  const holder = ctx.miners[0]!;
  const other = await spawnCliMiner(ctx.run, 'portless', { port: holder.port });
  ctx.miners.push(other);
  assert.is(await other.exited, 1, other.stderr());
  assert.match(other.stderr(), new RegExp(`^error: --port ${holder.port}: the port is in use by another process`, "m"));
  assert.is((await byPrefix(ctx, other.namePrefix)).length, 0, 'no container of the failed miner');
});

lock('the kernel drops the lock of a killed miner: the next start on its data dir succeeds (logging to --log-file)', async (ctx) => {
  const first = ctx.miners[0]!;
  assert.is(await stopCliMiner(first, 'SIGKILL'), null);
  const logFile = join(ctx.run.dataDir, 'logs', 'miner.log');
  const again = await spawnCliMiner(ctx.run, 'first', { dataDir: first.dataDir, args: ['--allow-any', '--log-file', logFile] });
  ctx.miners.push(again);
  await healthy(again);
  assert.is(again.child.exitCode, null);
  assert.is(await stopCliMiner(again), 0);
  assert.is(again.stderr(), '', 'the log went to the file');
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
  assert.ok(lines.some((l) => l.msg === 'miner is listening'));
  assert.ok(lines.some((l) => l.msg.startsWith('stopping')));
});

lock.run();
