// The miner process (the CLI) killed with SIGKILL after an allocation and in the middle of
// one: on the next start nothing is orphaned and nothing is lost — a rental the ledger holds
// (`rentals/<id>.json`) keeps its container and credentials, anything unrecorded is removed.
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
import { DEFAULT_BASE_TAG } from '../src/containers/names.js';
import { LEDGER_DIR } from '../src/rentals/ledger.js';
import { rentalSchema, type Rental } from '../src/rentals/record.js';
import { RENTED_OUT } from '../src/rentals/service.js';
import { sweepLabelled } from './helpers/cli-miner.js';
import { freePort, renterKeys, requireDocker, sshRun, testRun, type TestRun } from './helpers/docker.js';

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
  /** The running miner's log (JSON lines on stderr). */
  out: string;
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
  ctx.out = '';
});

restart.after(async (ctx) => {
  if (ctx.miner) await killCli(ctx);
  // The CLI miner labels its containers and images with its own hotkey (known even when it never became ready).
  try {
    ctx.owner ??= fromKeyFile(readFileSync(join(ctx.dataDir, 'hotkey.json'), 'utf8')).ss58Address;
  } catch {
    // A miner that never wrote its hotkey made nothing.
  }
  if (ctx.owner) await sweepLabelled(ctx.docker, `compute-miner.owner=${ctx.owner}`);
  await ctx.run?.cleanup();
});

/** Starts `compute-miner miner` and resolves once it has reconciled its containers and answers /health with the base image ready. */
async function startCli(ctx: Ctx): Promise<void> {
  // A miner an earlier failed test left running holds the data dir.
  if (ctx.miner) await killCli(ctx);
  const child = spawn(process.execPath, [
    CLI, 'miner', '--data-dir', ctx.dataDir, '--host', '127.0.0.1', '--port', String(ctx.port),
    '--ssh-port', String(ctx.sshPort), '--ssh-bind', '127.0.0.1', '--allow-any', '--name-prefix', ctx.run.namePrefix, '--log-format', 'json',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  ctx.miner = child;
  ctx.out = '';
  child.stderr!.on('data', (chunk) => (ctx.out += chunk));
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`the miner exited with ${child.exitCode}: ${ctx.out.slice(-2000)}`);
    const health = await fetch(`http://127.0.0.1:${ctx.port}/health`).then((r) => r.json() as Promise<Record<string, unknown>>, () => null);
    const allocation = (health?.allocation ?? {}) as { baseImage?: string };
    if (allocation.baseImage === 'ready' && ctx.out.includes('"containers reconciled"')) {
      ctx.owner ??= fromKeyFile(readFileSync(join(ctx.dataDir, 'hotkey.json'), 'utf8')).ss58Address;
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // The next test starts a miner on the same data dir: this one must be gone.
  await killCli(ctx);
  throw new Error(`the miner did not report its base image ready and its containers reconciled within 120 s: ${ctx.out.slice(-2000)}`);
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

/** The rentals of the miner's ledger on disk (only live rentals are written). */
function ledgerRentals(ctx: Ctx): Rental[] {
  const dir = join(ctx.dataDir, LEDGER_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => rentalSchema.parse(JSON.parse(readFileSync(join(dir, n), 'utf8'))));
}

/** Every container this miner made (its rentals and its warm container). */
async function ownContainers(ctx: Ctx) {
  return ctx.docker.listContainers({ all: true, filters: { label: [`compute-miner.owner=${ctx.owner}`] } });
}

/** This miner's rental containers: those its ledger holds (a warm container waiting for a rental aside). */
async function allocationContainers(ctx: Ctx) {
  const held = new Set(ledgerRentals(ctx).map((r) => r.workload?.container));
  return (await ownContainers(ctx)).filter((c) => held.has(c.Id));
}

const device = { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 0 }, gpu: {} };

restart('killed after an allocation: the rental survives, the restarted miner still knows its holder', async (ctx) => {
  await startCli(ctx);
  const client = dendrite(ctx);
  const renter = renterKeys();
  try {
    const reply = await client.call('Allocate', { timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device });
    assert.is(reply.code, 200, reply.message);
    const output = (reply.body as { output: { status: boolean; info?: string; error?: string } }).output;
    assert.ok(output.status, output.error);
    const { password } = decryptAllocationInfo(output.info!, renter.privateKeyPem);
    await killCli(ctx);
    // The rented container does not depend on the miner process.
    assert.is((await sshRun(ctx.sshPort, { password }, 'echo alive')).trim(), 'alive');
  } finally {
    await client.close();
  }

  const [recorded] = ledgerRentals(ctx);
  assert.ok(recorded, 'the rental is in the ledger on disk');
  assert.is(ledgerRentals(ctx).length, 1);
  assert.is(recorded.grant.sshPort, ctx.sshPort);
  assert.is(Buffer.from(recorded.holderKey, 'base64').toString('utf8'), renter.publicKeyPem);

  await startCli(ctx);
  const again = dendrite(ctx);
  try {
    const held = await allocationContainers(ctx);
    assert.equal(held.map((c) => c.Id), [recorded.workload!.container], 'the rental keeps its container');
    // Its one SSH port is the rental's: no warm container beside it, nothing else of this miner.
    assert.is((await ownContainers(ctx)).length, 1);
    const holder = await again.call('Allocate', { timeline: 0, checking: true, public_key: renter.publicKeyPem });
    assert.equal((holder.body as { output: unknown }).output, { status: true, port: ctx.sshPort });
    const busy = await again.call('Allocate', { timeline: 1, checking: true, device_requirement: device });
    assert.equal((busy.body as { output: unknown }).output, { status: false, port: ctx.sshPort, error: RENTED_OUT });
    const freed = await again.call('Allocate', { timeline: 0, checking: false, public_key: renter.publicKeyPem });
    assert.equal((freed.body as { output: unknown }).output, { status: true, port: ctx.sshPort });
    assert.is(ledgerRentals(ctx).length, 0);
    assert.is((await ctx.docker.listContainers({ all: true, filters: { id: [recorded.workload!.container] } })).length, 0, 'the rental\'s container is gone');
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
    const rentals = ledgerRentals(ctx);
    assert.ok(rentals.length <= 1);
    const recorded = rentals.length === 1;
    const containers = await allocationContainers(ctx);
    assert.is(containers.length, recorded ? 1 : 0, 'a record without its container');
    // Anything else of this miner is a warm container: from the base image, no rental's own image.
    const base = await ctx.docker.getImage(DEFAULT_BASE_TAG).inspect();
    const others = (await ownContainers(ctx)).filter((c) => !containers.some((h) => h.Id === c.Id));
    for (const c of others) assert.is(c.ImageID, base.Id, `a container without a record: ${c.Names.join(',')} (${c.Image})`);
    // With the one SSH port held by the rental there is no room for a warm container.
    if (recorded) assert.is(others.length, 0);
    const images = await ctx.docker.listImages({ filters: { label: [`compute-miner.owner=${ctx.owner}`, 'compute-miner.kind=allocation'] } });
    assert.is(images.length, recorded ? 1 : 0, 'a per-allocation image without its allocation');
    const holder = await again.call('Allocate', { timeline: 0, checking: true, public_key: renter.publicKeyPem });
    assert.is((holder.body as { output: { status: boolean } }).output.status, recorded);
    // Either way the miner is usable: free it if needed, then a fresh allocation works.
    if (recorded) await again.call('Allocate', { timeline: 0, checking: false, public_key: renter.publicKeyPem });
    const fresh = await again.call('Allocate', { timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device });
    const freshOut = (fresh.body as { output: { status: boolean; error?: string } }).output;
    assert.is(freshOut.status, true, freshOut.error);
    assert.is(ledgerRentals(ctx).length, 1);
    const freed = await again.call('Allocate', { timeline: 0, checking: false, public_key: renter.publicKeyPem });
    assert.is((freed.body as { output: { status: boolean } }).output.status, true);
    assert.is(ledgerRentals(ctx).length, 0);
    assert.is((await allocationContainers(ctx)).length, 0);
  } finally {
    await again.close();
    await killCli(ctx);
  }
});

restart.run();
