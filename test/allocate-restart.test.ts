// The miner process (the CLI) killed with SIGKILL after an allocation and in the middle of
// one: on the next start nothing is orphaned and nothing is lost — a recorded allocation
// keeps its container and credentials, anything unrecorded is removed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { fromKeyFile, generateHotkey } from '../protocol/index.js';
import { decryptAllocationInfo } from '../src/validator/credentials.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { RECORD_FILE } from '../src/containers/store.js';
import { freePort, removeLabelled, renterKeys, requireDocker, sshRun, testRun, type TestRun } from './helpers/docker.js';

// dist/test/allocate-restart.test.js → dist/src/cli.js
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.js');
const MiB = 1024 * 1024;

interface Ctx {
  docker: Dockerode;
  run: TestRun;
  dataDir: string;
  port: number;
  sshPort: number;
  miner?: ChildProcess;
  owner?: string;
}
const restart = suite<Ctx>('miner killed with SIGKILL');

restart.before(async (ctx) => {
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'kill');
  ctx.dataDir = join(ctx.run.dataDir, 'miner');
  mkdirSync(ctx.dataDir);
  ctx.port = await freePort();
  ctx.sshPort = await freePort();
});

restart.after(async (ctx) => {
  if (ctx.miner) await killCli(ctx);
  // The CLI miner labels its containers and images with its own hotkey.
  if (ctx.owner) await removeLabelled(ctx.docker, `compute-miner.owner=${ctx.owner}`);
  await ctx.run?.cleanup();
});

/** Starts `compute-miner miner` and resolves once it answers /health with the base image ready. */
async function startCli(ctx: Ctx): Promise<void> {
  const child = spawn(process.execPath, [
    CLI, 'miner', '--data-dir', ctx.dataDir, '--host', '127.0.0.1', '--port', String(ctx.port),
    '--ssh-port', String(ctx.sshPort), '--ssh-bind', '127.0.0.1', '--allow-any', '--name-prefix', ctx.run.namePrefix, '--log-format', 'json',
  ], { stdio: ['ignore', 'ignore', 'ignore'] });
  ctx.miner = child;
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`the miner exited with ${child.exitCode}`);
    const health = await fetch(`http://127.0.0.1:${ctx.port}/health`).then((r) => r.json() as Promise<Record<string, unknown>>, () => null);
    const allocation = (health?.allocation ?? {}) as { baseImage?: string };
    if (allocation.baseImage === 'ready') {
      ctx.owner ??= fromKeyFile(readFileSync(join(ctx.dataDir, 'hotkey.json'), 'utf8')).ss58Address;
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the miner did not report its base image ready within 120 s');
}

async function killCli(ctx: Ctx): Promise<void> {
  const child = ctx.miner!;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  killOrphans(ctx.dataDir);
}

/** Processes the killed miner started (its hashcat solver) outlive it; they name its data dir. */
function killOrphans(dataDir: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(dataDir)) {
      try { process.kill(Number(entry), 'SIGKILL'); } catch { /* already gone */ }
    }
  }
}

function dendrite(ctx: Ctx): Dendrite {
  return new Dendrite({ hotkey: generateHotkey(), url: `ws://127.0.0.1:${ctx.port}`, timeoutMs: 60_000 });
}

/** This miner's allocation containers (its idle standby aside). */
async function allocationContainers(ctx: Ctx) {
  const all = await ctx.docker.listContainers({ all: true, filters: { label: [`compute-miner.owner=${ctx.owner}`] } });
  return all.filter((c) => !c.Names.some((n) => n.endsWith('ssh-standby')));
}

const device = { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 0 }, gpu: {} };

restart('killed after an allocation: the rental survives, the restarted miner still knows its holder', async (ctx) => {
  await startCli(ctx);
  const client = dendrite(ctx);
  const renter = renterKeys();
  try {
    const reply = await client.call('Allocate', { timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device });
    const output = (reply.body as { output: { status: boolean; info?: string; error?: string } }).output;
    assert.ok(output.status, output.error);
    const { password } = decryptAllocationInfo(output.info!, renter.privateKeyPem);
    await killCli(ctx);
    // The rented container does not depend on the miner process.
    assert.is((await sshRun(ctx.sshPort, { password }, 'echo alive')).trim(), 'alive');
  } finally {
    await client.close();
  }

  await startCli(ctx);
  const again = dendrite(ctx);
  try {
    assert.is((await allocationContainers(ctx)).length, 1);
    const holder = await again.call('Allocate', { timeline: 0, checking: true, public_key: renter.publicKeyPem });
    assert.equal((holder.body as { output: unknown }).output, { status: true, port: ctx.sshPort });
    const busy = await again.call('Allocate', { timeline: 1, checking: true, device_requirement: device });
    assert.is((busy.body as { output: { status: boolean } }).output.status, false);
    const freed = await again.call('Allocate', { timeline: 0, checking: false, public_key: renter.publicKeyPem });
    assert.equal((freed.body as { output: unknown }).output, { status: true, port: ctx.sshPort });
    assert.is((await allocationContainers(ctx)).length, 0);
  } finally {
    await again.close();
    await killCli(ctx);
  }
});

restart('killed in the middle of an allocation: after the restart, a container exists only with its record', async (ctx) => {
  await startCli(ctx);
  const client = dendrite(ctx);
  const renter = renterKeys();
  // A renter build makes the allocation long enough to be cut in the middle.
  const pending = client.call('Allocate', {
    timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device,
    docker_requirement: { dockerfile: 'RUN sleep 3' },
  }).catch(() => null);
  await new Promise((r) => setTimeout(r, 1500));
  await killCli(ctx);
  assert.is(await pending, null, 'the reply came before the kill: nothing was cut in the middle');
  await client.close();

  await startCli(ctx);
  const again = dendrite(ctx);
  try {
    const recorded = existsSync(join(ctx.dataDir, RECORD_FILE));
    const containers = await allocationContainers(ctx);
    assert.is(containers.length, recorded ? 1 : 0, 'a container without a record (or a record without its container)');
    const images = await ctx.docker.listImages({ filters: { label: [`compute-miner.owner=${ctx.owner}`, 'compute-miner.kind=allocation'] } });
    assert.is(images.length, recorded ? 1 : 0, 'a per-allocation image without its allocation');
    const holder = await again.call('Allocate', { timeline: 0, checking: true, public_key: renter.publicKeyPem });
    assert.is((holder.body as { output: { status: boolean } }).output.status, recorded);
    // Either way the miner is usable: free it if needed, then a fresh allocation works.
    if (recorded) await again.call('Allocate', { timeline: 0, checking: false, public_key: renter.publicKeyPem });
    const fresh = await again.call('Allocate', { timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device });
    assert.is((fresh.body as { output: { status: boolean } }).output.status, true);
    await again.call('Allocate', { timeline: 0, checking: false, public_key: renter.publicKeyPem });
    assert.is((await allocationContainers(ctx)).length, 0);
  } finally {
    await again.close();
    await killCli(ctx);
  }
});

restart.run();
