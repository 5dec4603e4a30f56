// Allocate end to end over the axon with the project's own validator client (Dendrite):
// allocate → decrypt `info` → SSH with the password (cores and memory as requested) →
// exchange key → pause → unpause → restart → de-allocate; bad input over the wire; and a
// private Docker daemon killed and restarted under a running miner.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { generateHotkey, type Hotkey } from '../protocol/index.js';
import { createAxon, type Axon } from '../src/axon/server.js';
import { createContainerManager, type ContainerManager } from '../src/containers/index.js';
import { sshAnswers } from '../src/containers/ssh-ready.js';
import { HOLDER_KEY_FILE } from '../src/containers/store.js';
import { DEFAULT_BASE_TAG } from '../src/containers/names.js';
import { allocatePlugin } from '../src/handlers/allocate.js';
import { specsPlugin } from '../src/handlers/specs.js';
import { silentLogger } from '../src/log.js';
import { createSpecsProbe } from '../src/specs/hardware.js';
import { decryptAllocationInfo } from '../src/validator/credentials.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { copyImage, startPrivateDockerd, type PrivateDockerd } from './helpers/docker-daemon.js';
import { openAccess } from './helpers/axon.js';
import { allocationContainers, freePort, MEMORY_LIMIT_COMMAND, renterKeys, requireDocker, runManagerOptions, sshRun, testRun, type TestRun } from './helpers/docker.js';
import { sshKeyPair } from './helpers/ssh-keys.js';

const MiB = 1024 * 1024;

interface Miner {
  axon: Axon;
  dendrite: Dendrite;
  manager: ContainerManager;
}

async function startMiner(docker: Dockerode, run: TestRun, sshPort: number, dataDir = run.dataDir): Promise<Miner> {
  const hotkey: Hotkey = generateHotkey();
  const manager = createContainerManager(runManagerOptions(docker, run, sshPort, { dataDir }));
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
  assert.is((await allocationContainers(ctx.docker, ctx.run, ctx.manager)).length, 0);
  assert.not.ok(existsSync(join(ctx.run.dataDir, HOLDER_KEY_FILE)));
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
  assert.is((await allocationContainers(ctx.docker, ctx.run, ctx.manager)).length, 0);
  assert.is(ctx.miner.manager.state().allocated, false);
});

overAxon.run();

// --- a private daemon that goes away and comes back -----------------------------------------

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
  ctx.miner = await startMiner(ctx.dockerd.docker, ctx.run, await freePort(), join(ctx.run.dataDir, 'miner'));
  await ctx.miner.manager.baseImageReady();
});

dockerDown.after(async (ctx) => {
  await stopMiner(ctx.miner);
  await ctx.dockerd?.destroy();
  await ctx.run?.cleanup();
});


dockerDown('Allocate answers 503 while dockerd is down, Specs still answers, and all works again when it is back', async (ctx) => {
  const { dendrite } = ctx.miner;
  assert.is(hostHasDocker0(), ctx.hadDocker0, 'the private daemon took the shared docker0 bridge away');
  const check = { timeline: 1, checking: true, device_requirement: device(1, 128 * MiB) };
  const before = await dendrite.call('Allocate', check);
  assert.is(before.code, 200);
  assert.is((before.body as { output: { status: boolean } }).output.status, true);

  await ctx.dockerd.kill();
  const down = await dendrite.call('Allocate', check);
  assert.equal([down.code, down.message], [503, 'Docker daemon unreachable']);
  const holder = await dendrite.call('Allocate', { timeline: 0, checking: false, public_key: renterKeys().publicKeyPem });
  assert.is(holder.code, 503);
  const specs = await dendrite.call('Specs', {});
  assert.is(specs.code, 200);
  assert.is((specs.body as { specs_output: { docker: { available: boolean } } }).specs_output.docker.available, false);

  await ctx.dockerd.restart();
  assert.is(hostHasDocker0(), ctx.hadDocker0, 'the private daemon took the shared docker0 bridge away');
  const after = await dendrite.call('Allocate', check);
  assert.is(after.code, 200, after.message);
  assert.is((after.body as { output: { status: boolean } }).output.status, true);
});

dockerDown.run();
