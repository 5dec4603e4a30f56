// Allocate end to end over the axon with the project's own validator client (Dendrite):
// allocate → decrypt `info` → SSH with the password (cores and memory as requested) →
// exchange key → pause → unpause → restart → de-allocate, the rental one record of the ledger;
// bad input over the wire; and a private Docker daemon killed and restarted under a running
// miner holding a rental.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { generateHotkey, type Hotkey } from '../protocol/index.js';
import { createAxon, type Axon } from '../src/axon/server.js';
import { sshAnswers } from '../src/containers/ssh-ready.js';
import { HOLDER_KEY_FILE, RECORD_FILE } from '../src/containers/store.js';
import { DEFAULT_BASE_TAG } from '../src/containers/names.js';
import { allocatePlugin } from '../src/handlers/allocate.js';
import { specsPlugin } from '../src/handlers/specs.js';
import { silentLogger } from '../src/log.js';
import { holderFingerprint } from '../src/rentals/holder.js';
import { LEDGER_DIR } from '../src/rentals/ledger.js';
import type { RentalService } from '../src/rentals/service.js';
import { createSpecsProbe } from '../src/specs/hardware.js';
import { decryptAllocationInfo } from '../src/validator/credentials.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { copyImage, startPrivateDockerd, type PrivateDockerd } from './helpers/docker-daemon.js';
import { openAccess } from './helpers/axon.js';
import { allocationContainers, createRunRentals, freePort, freePorts, MEMORY_LIMIT_COMMAND, renterKeys, requireDocker, sshRun, testRun, type TestRun } from './helpers/docker.js';
import { sshKeyPair } from './helpers/ssh-keys.js';

const MiB = 1024 * 1024;

interface Miner {
  axon: Axon;
  dendrite: Dendrite;
  manager: RentalService;
}

async function startMiner(docker: Dockerode, run: TestRun, sshPorts: number | number[], dataDir = run.dataDir): Promise<Miner> {
  const hotkey: Hotkey = generateHotkey();
  const manager = createRunRentals(docker, run, sshPorts, { dataDir });
  await manager.start();
  const axon = createAxon({
    hotkey, host: '127.0.0.1', port: 0, access: openAccess(), log: silentLogger(),
    plugins: [specsPlugin(createSpecsProbe({ dataDir, docker, cacheMs: 0 })), allocatePlugin(manager)],
  });
  let port: number;
  try {
    ({ port } = await axon.listen());
  } catch (err) {
    await manager.stop();
    throw err;
  }
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: `ws://127.0.0.1:${port}`, axonHotkey: hotkey.ss58Address, timeoutMs: 90_000 });
  return { axon, dendrite, manager };
}

/** Each step runs even when an earlier one fails, so a later daemon and run cleanup still happen. */
async function stopMiner(m: Miner | undefined): Promise<void> {
  if (!m) return;
  await m.dendrite.close().catch(() => undefined);
  await m.axon.close().catch(() => undefined);
  await m.manager.stop().catch(() => undefined);
}

// --- over the shared daemon -----------------------------------------------------------------

interface Ctx { docker: Dockerode; run: TestRun; sshPort: number; miner: Miner }
const overAxon = suite<Ctx>('Allocate over the axon');

overAxon.before(async (ctx) => {
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'e2e');
  ctx.sshPort = await freePort();
  ctx.miner = await startMiner(ctx.docker, ctx.run, ctx.sshPort);
  await ctx.miner.manager.baseImageReady();
});

overAxon.after(async (ctx) => {
  await stopMiner(ctx.miner);
  await ctx.run?.cleanup();
});

const device = (cores: number, ram: number) => ({ cpu: { count: cores }, ram: { capacity: ram }, hard_disk: { capacity: 1024 * MiB }, gpu: {} });

overAxon('allocate → decrypt info → SSH → exchange key → pause → unpause → restart → de-allocate', async (ctx) => {
  const { dendrite } = ctx.miner;
  const renter = renterKeys();
  const call = async (body: Record<string, unknown>) => {
    const reply = await dendrite.call('Allocate', body);
    assert.is(reply.code, 200, reply.message);
    return (reply.body as { output: { status: boolean; info?: string; port: number; error?: string } }).output;
  };

  assert.equal(await call({ timeline: 1, checking: true, device_requirement: device(1, 384 * MiB) }), { status: true, port: ctx.sshPort });
  const allocated = await call({ timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device(1, 384 * MiB) });
  assert.is(allocated.status, true, allocated.error);
  const credentials = decryptAllocationInfo(allocated.info!, renter.privateKeyPem);
  assert.is(credentials.port, ctx.sshPort);
  // The rental is one record of the ledger, on disk before the reply went out; the holder's key is in it.
  const [rental] = ctx.miner.manager.ledger.all();
  assert.ok(rental, 'the ledger holds the rental');
  assert.is(ctx.miner.manager.ledger.all().length, 1);
  const record = JSON.parse(readFileSync(join(ctx.run.dataDir, LEDGER_DIR, `${rental.id}.json`), 'utf8')) as { holderKey: string; grant: { sshPort: number }; phase: string };
  assert.is(record.phase, 'live');
  assert.is(record.grant.sshPort, ctx.sshPort);
  assert.is(Buffer.from(record.holderKey, 'base64').toString('utf8'), renter.publicKeyPem);
  assert.match(holderFingerprint(record.holderKey), /^SHA256:/);
  assert.is((await ctx.miner.manager.rentals())[0]?.container, rental.workload?.name);

  const [nproc, memory] = (await sshRun(credentials.port, { password: credentials.password }, `nproc; ${MEMORY_LIMIT_COMMAND}`)).trim().split('\n');
  assert.is(nproc, '1');
  assert.is(Number(memory), 384 * MiB);

  const action = (name: string, extra: Record<string, unknown> = {}) =>
    call({ timeline: 0, checking: false, public_key: renter.publicKeyPem, docker_change: true, docker_action: { action: name, ...extra } });
  const key = sshKeyPair();
  assert.equal(await action('exchange_key', { ssh_key: key.public, key_type: 'user' }), { status: true, port: ctx.sshPort });
  assert.is((await sshRun(credentials.port, { privateKey: key.private }, 'echo with-key')).trim(), 'with-key');

  assert.equal(await action('pause'), { status: true, port: ctx.sshPort });
  assert.is(await sshAnswers('127.0.0.1', credentials.port, 1500), false);
  assert.equal(await action('unpause'), { status: true, port: ctx.sshPort });
  assert.is((await sshRun(credentials.port, { password: credentials.password }, 'echo awake')).trim(), 'awake');
  assert.equal(await action('restart'), { status: true, port: ctx.sshPort });
  assert.is((await sshRun(credentials.port, { password: credentials.password }, 'echo again')).trim(), 'again');

  assert.equal(await call({ timeline: 0, checking: false, public_key: renter.publicKeyPem }), { status: true, port: ctx.sshPort });
  assert.is(ctx.miner.manager.ledger.all().length, 0);
  assert.is((await ctx.docker.listContainers({ all: true, filters: { id: [rental.workload!.container] } })).length, 0, 'the rental\'s container is gone');
  assert.is((await allocationContainers(ctx.docker, ctx.run, ctx.miner.manager)).length, 0);
  assert.equal(readdirSync(join(ctx.run.dataDir, LEDGER_DIR)).filter((n) => n.endsWith('.json')), [], 'the record left the ledger');
  // No record of the older shape is written any more.
  assert.not.ok(existsSync(join(ctx.run.dataDir, HOLDER_KEY_FILE)));
  assert.not.ok(existsSync(join(ctx.run.dataDir, RECORD_FILE)));
  assert.equal(await call({ timeline: 0, checking: true, public_key: renter.publicKeyPem }), { status: false, port: ctx.sshPort, error: 'no allocation on this miner' });
});

overAxon('bad input over the wire: 422 with the field path, nothing created', async (ctx) => {
  const { dendrite } = ctx.miner;
  const renter = renterKeys();
  const ssh = sshKeyPair().public;
  const bodies: Array<[Record<string, unknown>, RegExp]> = [
    [{ timeline: 1, checking: false, public_key: 'garbage', device_requirement: device(1, 128 * MiB) }, /^public_key: /],
    [{ timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device(1, 128 * MiB), docker_requirement: { ssh_key: `${ssh}\nrm -rf /` } }, /^docker_requirement\.ssh_key: /],
    [{ timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device(1, -5) }, /^device_requirement\.ram\.capacity: /],
    [{ timeline: 0, checking: false, public_key: renter.publicKeyPem, docker_change: true, docker_action: { action: 'explode' } }, /^docker_action\.action: /],
  ];
  for (const [body, pattern] of bodies) {
    const reply = await dendrite.call('Allocate', body);
    assert.is(reply.code, 422);
    assert.match(reply.message, pattern);
  }
  assert.is((await allocationContainers(ctx.docker, ctx.run, ctx.miner.manager)).length, 0);
  assert.is(ctx.miner.manager.ledger.all().length, 0);
  assert.is(ctx.miner.manager.state().allocated, false);
});

overAxon.run();

// --- a private daemon that goes away and comes back -----------------------------------------

async function waitForSsh(port: number, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end;) {
    if (await sshAnswers('127.0.0.1', port, 1500)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

const hostHasDocker0 = () => readFileSync('/proc/net/dev', 'utf8').includes('docker0:');

interface DownCtx { shared: Dockerode; run: TestRun; dockerd: PrivateDockerd; miner: Miner; hadDocker0: boolean }
const dockerDown = suite<DownCtx>('Docker daemon down and back');

dockerDown.before(async (ctx) => {
  ctx.shared = await requireDocker();
  ctx.run = testRun(ctx.shared, 'down');
  // Whether the host had the system daemon's docker0 before: the private daemon must not take it away.
  ctx.hadDocker0 = hostHasDocker0();
  ctx.dockerd = await startPrivateDockerd(mkdtempSync(join(tmpdir(), `cm-dockerd-${ctx.run.id}-`)), ctx.run.id);
  // The private daemon gets the base image from the shared one instead of building it again.
  await copyImage(ctx.shared, ctx.dockerd.docker, DEFAULT_BASE_TAG);
  // Two SSH ports: with its rental on one, the host still has room, so a refusal says why.
  ctx.miner = await startMiner(ctx.dockerd.docker, ctx.run, await freePorts(2), join(ctx.run.dataDir, 'miner'));
  await ctx.miner.manager.baseImageReady();
});

dockerDown.after(async (ctx) => {
  await stopMiner(ctx.miner);
  await ctx.dockerd?.destroy();
  await ctx.run?.cleanup();
});


dockerDown('dockerd down: Allocate answers for itself (no host is up; the holder\'s host is not answering), Specs still answers, and the rental works again when it is back', async (ctx) => {
  const { dendrite } = ctx.miner;
  assert.is(hostHasDocker0(), ctx.hadDocker0, 'the private daemon took the shared docker0 bridge away');
  const output = (reply: { body?: unknown }) => (reply.body as { output: { status: boolean; error?: string; info?: string; port: number } }).output;
  const check = { timeline: 1, checking: true, device_requirement: device(1, 128 * MiB) };
  const before = await dendrite.call('Allocate', check);
  assert.is(before.code, 200, before.message);
  assert.is(output(before).status, true, output(before).error);
  const renter = renterKeys();
  const made = await dendrite.call('Allocate', { timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device(1, 128 * MiB) });
  assert.is(made.code, 200, made.message);
  assert.is(output(made).status, true, output(made).error);
  const credentials = decryptAllocationInfo(output(made).info!, renter.privateKeyPem);
  const holderCheck = { timeline: 0, checking: true, public_key: renter.publicKeyPem };
  assert.is(output(await dendrite.call('Allocate', holderCheck)).status, true);
  assert.is((await sshRun(credentials.port, { password: credentials.password }, 'echo before')).trim(), 'before');

  await ctx.dockerd.kill();
  // A decision reads a host's view again once it is older than a second.
  await new Promise((r) => setTimeout(r, 1100));
  // Questions are answered from the ledger and the host's view: domain answers, not a 503.
  const down = await dendrite.call('Allocate', check);
  assert.is(down.code, 200, down.message);
  assert.equal(output(down), { status: false, port: output(down).port, error: 'no host is up (1 down)' });
  const holder = await dendrite.call('Allocate', holderCheck);
  assert.is(holder.code, 200, holder.message);
  assert.is(output(holder).status, false);
  assert.match(output(holder).error ?? '', /^host local is not answering: /);
  assert.is(output(holder).port, credentials.port);
  const stranger = await dendrite.call('Allocate', { timeline: 0, checking: false, public_key: renterKeys().publicKeyPem });
  assert.is(stranger.code, 200, stranger.message);
  assert.equal(output(stranger), { status: false, port: output(stranger).port, error: 'permission denied: public_key is not the holder of this allocation' });
  // The rental is kept while its host does not answer.
  assert.is(ctx.miner.manager.ledger.all().length, 1);
  const specs = await dendrite.call('Specs', {});
  assert.is(specs.code, 200);
  assert.is((specs.body as { specs_output: { docker: { available: boolean } } }).specs_output.docker.available, false);

  await ctx.dockerd.restart();
  assert.is(hostHasDocker0(), ctx.hadDocker0, 'the private daemon took the shared docker0 bridge away');
  // The host answers again: its rentals are reconciled (a container found stopped is started again).
  let back = output(await dendrite.call('Allocate', holderCheck));
  for (const end = Date.now() + 60_000; !back.status && Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 500));
    back = output(await dendrite.call('Allocate', holderCheck));
  }
  assert.is(back.status, true, back.error);
  // Its container runs again; sshd inside may take a moment more to answer.
  assert.ok(await waitForSsh(credentials.port, 30_000), 'SSH of the rental answers again');
  assert.is((await sshRun(credentials.port, { password: credentials.password }, 'echo back')).trim(), 'back');
  const after = await dendrite.call('Allocate', check);
  assert.is(after.code, 200, after.message);
  assert.is(output(after).status, true, output(after).error);
  const released = await dendrite.call('Allocate', { timeline: 0, checking: false, public_key: renter.publicKeyPem });
  assert.is(output(released).status, true, output(released).error);
  assert.is(ctx.miner.manager.ledger.all().length, 0);
});

dockerDown.run();
