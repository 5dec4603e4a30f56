// The rental service on the real Docker daemon: allocate → SSH with the password (cores and
// memory limit as requested) → exchange keys → pause/unpause → restart → de-allocate, the
// rental in the ledger and secrets nowhere in Docker's metadata, holder checks, warm containers,
// test rentals beside and before rentals, renter Dockerfiles, and 20 concurrent allocations on
// a one-port miner yielding exactly one container.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AllocationRequest, RentalService } from '../src/rentals/service.js';
import { HOLDER_KEY_FILE, RECORD_FILE } from '../src/containers/store.js';
import { sshAnswers } from '../src/containers/ssh-ready.js';
import { rentalIoLimits } from '../src/containers/io-limits.js';
import { poolDevice } from '../src/host/pool.js';
import { rentalHostLayout } from '../src/host/rental-dockerd.js';
import { LEDGER_DIR } from '../src/rentals/ledger.js';
import type { Rental } from '../src/rentals/record.js';
import {
  allocationContainers, createRunRentals, freePorts, MEMORY_LIMIT_COMMAND, RUN_LABEL, sshRun, standbyContainers, startManagerRun, stopManagerRun,
  testRun, trackedHolders, type ManagerRun,
} from './helpers/docker.js';
import { cgroupLimits, expectedCgroupLimits, majorMinorOf } from './helpers/io-cgroup.js';
import { sshKeyPair } from './helpers/ssh-keys.js';
import { until } from './helpers/wait.js';

const MiB = 1024 * 1024;

const lifecycle = suite<ManagerRun>('container lifecycle');

/**
 * How long the engine may take to answer before the host counts as down. The machine these
 * suites run on is shared and loaded (docker info has taken 1.9 s there): the default 1.5 s
 * bound would refuse rentals as "no host is up" now and then, which is not what is tested here.
 */
const ANSWER_BOUND_MS = 10_000;

lifecycle.before(async (ctx) => {
  Object.assign(ctx, await startManagerRun('life', { answerBoundMs: ANSWER_BOUND_MS }));
});

lifecycle.after((ctx) => stopManagerRun(ctx));

const holders = trackedHolders();
const holderKeys = () => holders.keys();
lifecycle.after.each((ctx) => holders.release(ctx.manager));

const request = (publicKeyPem: string, over: Partial<AllocationRequest> = {}): AllocationRequest => ({
  timelineDays: 1,
  device: { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {}, testing: false },
  publicKeyPem, sshKey: '', dockerfile: '', ...over,
});

async function expectRejection(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const outcome = await promise.then(() => null, (err: Error) => err);
  assert.ok(outcome, 'expected a rejection');
  assert.match(outcome!.message, pattern);
}

const runContainers = async (ctx: ManagerRun) => allocationContainers(ctx.docker, ctx.run, ctx.manager);
/** The ledger's rental files in the data dir. */
const ledgerFiles = (ctx: ManagerRun) => {
  try { return readdirSync(join(ctx.run.dataDir, LEDGER_DIR)).filter((f) => f.endsWith('.json')); } catch { return []; }
};
/** The record files of older releases: never written any more. */
const legacyFiles = (ctx: ManagerRun) => [RECORD_FILE, HOLDER_KEY_FILE].filter((f) => existsSync(join(ctx.run.dataDir, f)));
/** A started warm container (one that can be claimed), waited for. */
const warmReady = (ctx: ManagerRun, what: string) =>
  until(what, async () => ctx.manager.state().standby && (await standbyContainers(ctx.docker, ctx.run, ctx.manager))[0]?.Id, 180_000, 200);
/** A device requirement; disk 0 asks for the default rental disk (10 GiB). */
const device = (cores: number, memory: number, testing = false, disk = 0) => ({ cpu: { count: cores }, ram: { capacity: memory }, hard_disk: { capacity: disk }, gpu: {}, testing });

lifecycle('allocate → SSH → exchange keys → pause → unpause → restart → de-allocate', async (ctx) => {
  const holder = holderKeys();
  const stranger = holderKeys();
  const renterSsh = sshKeyPair('renter');
  const newUserSsh = sshKeyPair('renter-2');
  const terminalSsh = sshKeyPair('terminal');

  const result = await ctx.manager.allocate(request(holder.publicKeyPem, {
    sshKey: renterSsh.public,
    device: { cpu: { count: 1 }, ram: { capacity: 512 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {}, testing: false },
  }));
  assert.ok(result.status, result.status ? '' : result.error);
  if (!result.status) return;
  const { password, port, username } = result.credentials;
  assert.is(username, 'root');
  assert.is(port, ctx.port);
  assert.ok(password.length >= 20);
  // The rental is one record in the ledger, written before the reply, the holder's key inside it.
  const [rental] = ctx.manager.ledger.all();
  assert.ok(rental);
  assert.equal(ledgerFiles(ctx), [`${rental!.id}.json`]);
  const onDisk = JSON.parse(readFileSync(join(ctx.run.dataDir, LEDGER_DIR, `${rental!.id}.json`), 'utf8')) as Rental;
  assert.is(onDisk.phase, 'live');
  assert.is(Buffer.from(onDisk.holderKey, 'base64').toString('utf8'), holder.publicKeyPem);
  assert.is(onDisk.grant.sshPort, ctx.port);
  assert.is(onDisk.grant.memoryBytes, 512 * MiB);
  assert.not.ok(JSON.stringify(onDisk).includes(password), 'password in the ledger');
  assert.equal(legacyFiles(ctx), []);
  assert.is(ctx.manager.state().allocated, true);
  assert.is(ctx.manager.state().role, 'ssh-container');

  // The reply came after SSH answered: log in at once with the password.
  const [nproc, memory] = (await sshRun(port, { password }, `nproc; ${MEMORY_LIMIT_COMMAND}`)).trim().split('\n');
  assert.is(nproc, '1');
  assert.is(Number(memory), 512 * MiB);
  assert.is((await sshRun(port, { privateKey: renterSsh.private }, 'echo key-ok')).trim(), 'key-ok');

  // Secrets never in Docker's metadata or logs.
  const [container] = await runContainers(ctx);
  assert.ok(container);
  const inspected = JSON.stringify(await ctx.docker.getContainer(container!.Id).inspect());
  assert.not.ok(inspected.includes(password), 'password in docker inspect');
  const history = JSON.stringify(await ctx.docker.getImage(container!.Image).history());
  assert.not.ok(history.includes(password), 'password in docker history');
  const logs = (await ctx.docker.getContainer(container!.Id).logs({ stdout: true, stderr: true })).toString('latin1');
  assert.not.ok(logs.includes(password), 'password in container logs');

  // Holder checks: the holder is recognised; a stranger changes nothing.
  assert.equal(await ctx.manager.checkHolder(holder.publicKeyPem), { status: true });
  assert.equal(await ctx.manager.checkHolder(stranger.publicKeyPem), { status: false, error: 'permission denied: public_key is not the holder of this allocation' });
  const denied = await ctx.manager.deallocate(stranger.publicKeyPem);
  assert.is(denied.status, false);
  assert.match(denied.error ?? '', /permission denied/);
  assert.match((await ctx.manager.pause(stranger.publicKeyPem)).error ?? '', /permission denied/);
  assert.is((await runContainers(ctx)).length, 1);
  const busy = await ctx.manager.checkFree(request(holder.publicKeyPem).device);
  assert.equal(busy, { status: false, error: 'already allocated: this miner is rented out' });

  // Exchange keys: terminal key added, then the user key replaced; the other kind is kept.
  assert.equal(await ctx.manager.exchangeKey(holder.publicKeyPem, 'terminal', terminalSsh.public), { status: true });
  assert.equal(await ctx.manager.exchangeKey(holder.publicKeyPem, 'user', newUserSsh.public), { status: true });
  assert.is((await sshRun(port, { privateKey: newUserSsh.private }, 'echo new-user')).trim(), 'new-user');
  assert.is((await sshRun(port, { privateKey: terminalSsh.private }, 'echo terminal')).trim(), 'terminal');
  await expectRejection(sshRun(port, { privateKey: renterSsh.private }, 'true'), /authentication methods failed/);

  // Pause: SSH stops answering; unpause: it answers again.
  assert.equal(await ctx.manager.pause(holder.publicKeyPem), { status: true });
  assert.is(await sshAnswers('127.0.0.1', port, 1500), false);
  assert.match((await ctx.manager.pause(holder.publicKeyPem)).error ?? '', /container is paused/);
  assert.equal(await ctx.manager.checkHolder(holder.publicKeyPem), { status: true });
  assert.equal(await ctx.manager.unpause(holder.publicKeyPem), { status: true });
  assert.is((await sshRun(port, { password }, 'echo back')).trim(), 'back');

  // Restart: same container, credentials kept, SSH answers when the reply comes.
  const before = (await ctx.docker.getContainer(container!.Id).inspect()).State.StartedAt;
  assert.equal(await ctx.manager.restart(holder.publicKeyPem), { status: true });
  assert.is.not((await ctx.docker.getContainer(container!.Id).inspect()).State.StartedAt, before);
  assert.is((await sshRun(port, { password }, 'echo restarted')).trim(), 'restarted');

  // De-allocate: container gone, the rental's record cleared.
  assert.equal(await ctx.manager.deallocate(holder.publicKeyPem), { status: true });
  assert.is(await ctx.docker.getContainer(container!.Id).inspect().then(() => 'exists', (e: { statusCode?: number }) => e.statusCode), 404);
  assert.equal(ledgerFiles(ctx), []);
  assert.equal(legacyFiles(ctx), []);
  assert.is(ctx.manager.state().allocated, false);
  assert.equal(await ctx.manager.checkHolder(holder.publicKeyPem), { status: false, error: 'no allocation on this miner' });
  assert.equal(await ctx.manager.deallocate(holder.publicKeyPem), { status: false, error: 'no allocation on this miner' });
});

lifecycle('the idle miner keeps a started warm container; a rental claims it with its limits; a fresh one follows de-allocation', async (ctx) => {
  const standbyId = await warmReady(ctx, 'a warm container');
  const warmLabels = (await ctx.docker.getContainer(standbyId).inspect()).Config.Labels;
  const renter = holderKeys();
  const r = await ctx.manager.allocate(request(renter.publicKeyPem, { device: device(1, 192 * MiB) }));
  assert.ok(r.status);
  if (!r.status) return;
  const [claimed] = await runContainers(ctx);
  assert.is(claimed?.Id, standbyId);
  // It was made for the rental that claims it: its name and allocation label carry that rental's id.
  const [rental] = ctx.manager.ledger.all();
  assert.is(warmLabels['compute-miner.allocation'], rental?.id);
  assert.equal(claimed?.Names, [`/${ctx.run.namePrefix}ssh-container-${rental?.id}`]);
  assert.is((await standbyContainers(ctx.docker, ctx.run, ctx.manager)).length, 0);
  // The limits were applied to the running standby, not left at its idle settings.
  const [nproc, memory] = (await sshRun(ctx.port, { password: r.credentials.password }, `nproc; ${MEMORY_LIMIT_COMMAND}`)).trim().split('\n');
  assert.is(nproc, '1');
  assert.is(Number(memory), 192 * MiB);
  const claimedInfo = await ctx.docker.getContainer(standbyId).inspect();
  assert.is(claimedInfo.HostConfig.CpusetCpus, '0');
  assert.is(claimedInfo.HostConfig.Memory, 192 * MiB);
  // Its disk-IO limits (one core's) went into its cgroup from the host: docker update cannot set them.
  const io = cgroupLimits(claimedInfo.State.Pid);
  assert.is(io.text, expectedCgroupLimits(io.version, rentalIoLimits(1, poolDevice(rentalHostLayout().pool)!), majorMinorOf(poolDevice(rentalHostLayout().pool)!)));

  assert.equal(await ctx.manager.deallocate(renter.publicKeyPem), { status: true });
  assert.is(await ctx.docker.getContainer(standbyId).inspect().then(() => 'exists', (e: { statusCode?: number }) => e.statusCode), 404);
  const next = await warmReady(ctx, 'a fresh warm container');
  assert.is.not(next, standbyId);

  // A test rental never takes the warm container: it gets its own (on this one-port miner the
  // warm one gives up its port), and a warm container returns after it.
  const validator = holderKeys();
  const t = await ctx.manager.allocate(request(validator.publicKeyPem, { device: device(1, 128 * MiB, true) }));
  assert.ok(t.status);
  const [testContainer] = await runContainers(ctx);
  assert.is.not(testContainer?.Id, next);
  assert.is((await standbyContainers(ctx.docker, ctx.run, ctx.manager)).length, 0);
  assert.equal(await ctx.manager.deallocate(validator.publicKeyPem), { status: true });
  await warmReady(ctx, 'the warm container back');
});

lifecycle('a paused container is de-allocated (and removed) too', async (ctx) => {
  const renter = holderKeys();
  const r = await ctx.manager.allocate(request(renter.publicKeyPem));
  assert.ok(r.status);
  assert.equal(await ctx.manager.pause(renter.publicKeyPem), { status: true });
  assert.is((await runContainers(ctx))[0]?.State, 'paused');
  assert.equal(await ctx.manager.deallocate(renter.publicKeyPem), { status: true });
  assert.is((await runContainers(ctx)).length, 0);
});

lifecycle('each container has its own SSH host key', async (ctx) => {
  const hostKey = async () => {
    const keys = holderKeys();
    const r = await ctx.manager.allocate(request(keys.publicKeyPem));
    assert.ok(r.status);
    if (!r.status) return '';
    const key = await sshRun(ctx.port, { password: r.credentials.password }, 'cat /etc/ssh/ssh_host_ed25519_key.pub');
    assert.equal(await ctx.manager.deallocate(keys.publicKeyPem), { status: true });
    return key.trim();
  };
  const a = await hostKey();
  const b = await hostKey();
  assert.match(a, /^ssh-ed25519 /);
  assert.is.not(a, b);
});

lifecycle('20 concurrent allocations: exactly one container, the others "already allocated"', async (ctx) => {
  const renters = Array.from({ length: 20 }, () => holderKeys());
  const results = await Promise.all(renters.map((r) => ctx.manager.allocate(request(r.publicKeyPem))));
  const won = results.flatMap((r, i) => (r.status ? [i] : []));
  assert.is(won.length, 1);
  for (const r of results) if (!r.status) assert.is(r.error, 'already allocated: this miner is rented out');
  assert.is((await runContainers(ctx)).length, 1);
  assert.equal(await ctx.manager.deallocate(renters[won[0]!]!.publicKeyPem), { status: true });
  assert.is((await runContainers(ctx)).length, 0);
});

lifecycle('a rental needs the one SSH port a test rental holds: the test rental is ended for it; a test rental never displaces a rental', async (ctx) => {
  const validator = holderKeys();
  const renter = holderKeys();
  const testing = await ctx.manager.allocate(request(validator.publicKeyPem, { device: device(1, 128 * MiB, true) }));
  assert.ok(testing.status, testing.status ? '' : testing.error);
  assert.is(ctx.manager.state().role, 'ssh-test-container');
  const [test] = ctx.manager.ledger.all();
  const [testContainer] = await runContainers(ctx);
  assert.is(testContainer?.Names[0], `/${ctx.run.namePrefix}ssh-test-container-${test?.id}`);
  assert.is(testContainer?.Labels['compute-miner.owner'], ctx.run.hotkey.ss58Address);
  assert.is(testContainer?.Labels['compute-miner.role'], 'ssh-test-container');
  assert.is(testContainer?.Labels['compute-miner.allocation'], test?.id);
  // A test rental does not make the miner busy for a rental.
  assert.equal(await ctx.manager.checkFree(request(renter.publicKeyPem).device), { status: true });

  const rental = await ctx.manager.allocate(request(renter.publicKeyPem));
  assert.ok(rental.status, rental.status ? '' : rental.error);
  const [held] = ctx.manager.ledger.all();
  const names = (await runContainers(ctx)).map((c) => c.Names[0]);
  assert.equal(names, [`/${ctx.run.namePrefix}ssh-container-${held?.id}`]);
  assert.is(ctx.manager.ledger.get(test!.id), undefined);
  assert.is(await ctx.docker.getContainer(testContainer!.Id).inspect().then(() => 'exists', (e: { statusCode?: number }) => e.statusCode), 404);
  assert.equal(await ctx.manager.checkHolder(validator.publicKeyPem), { status: false, error: 'permission denied: public_key is not the holder of this allocation' });

  const another = await ctx.manager.allocate(request(validator.publicKeyPem, { device: device(1, 128 * MiB, true) }));
  assert.equal(another, { status: false, error: 'already allocated: this miner is rented out' });
  assert.equal(await ctx.manager.deallocate(renter.publicKeyPem), { status: true });
  assert.is((await runContainers(ctx)).length, 0);
});

lifecycle('with free cores and ports a test rental and a rental live side by side; a rental that needs the cores ends the test rental; a test rental never displaces a rental', async (ctx) => {
  // A miner of its own with two SSH ports (this machine has 2 cores: one each; 1 GiB disks, so
  // two fit on the 16 GiB storage pool where two 10 GiB default disks would not).
  const run = testRun(ctx.docker, 'life2');
  const ports = await freePorts(2, [ctx.port]);
  const two: RentalService = createRunRentals(ctx.docker, run, ports, { answerBoundMs: ANSWER_BOUND_MS });
  const mine = trackedHolders();
  try {
    await two.start();
    await two.baseImageReady();
    const cores = two.snapshot()[0]!.inventory.cpuCount;
    assert.is(cores, 2, 'the test is written for a 2-core host');
    const containers = () => allocationContainers(ctx.docker, run, two);
    const validator = mine.keys();
    const renter = mine.keys();
    const t = await two.allocate(request(validator.publicKeyPem, { device: device(1, 128 * MiB, true, 1024 * MiB) }));
    assert.ok(t.status, t.status ? '' : t.error);
    const r = await two.allocate(request(renter.publicKeyPem, { device: device(1, 128 * MiB, false, 1024 * MiB) }));
    assert.ok(r.status, r.status ? '' : r.error);
    if (!t.status || !r.status) return;
    assert.is.not(t.credentials.port, r.credentials.port);
    assert.equal(two.ledger.all().map((x) => x.role).sort(), ['rental', 'test']);
    assert.equal(await two.checkHolder(validator.publicKeyPem), { status: true });
    assert.equal(await two.checkHolder(renter.publicKeyPem), { status: true });
    assert.is((await containers()).length, 2);
    assert.is((await sshRun(t.credentials.port, { password: t.credentials.password }, 'echo test-here')).trim(), 'test-here');
    assert.is((await sshRun(r.credentials.port, { password: r.credentials.password }, 'echo rental-here')).trim(), 'rental-here');
    assert.equal(await two.deallocate(renter.publicKeyPem), { status: true });

    // A rental that needs both cores ends the test rental to get them.
    const [test] = two.ledger.all();
    const big = await two.allocate(request(renter.publicKeyPem, { device: device(2, 128 * MiB, false, 1024 * MiB) }));
    assert.ok(big.status, big.status ? '' : big.error);
    assert.equal(two.ledger.all().map((x) => x.role), ['rental']);
    assert.is(await ctx.docker.getContainer(test!.workload!.container).inspect().then(() => 'exists', (e: { statusCode?: number }) => e.statusCode), 404);
    assert.equal(await two.checkHolder(validator.publicKeyPem), { status: false, error: 'permission denied: public_key is not the holder of this allocation' });

    // A test rental never displaces it: no core is free, so it is refused.
    const refused = await two.allocate(request(validator.publicKeyPem, { device: device(1, 128 * MiB, true, 1024 * MiB) }));
    assert.equal(refused, { status: false, error: 'insufficient CPU: 1 core requested, the largest free on one host is 0' });
    assert.equal(two.ledger.all().map((x) => x.role), ['rental']);
    assert.equal(await two.checkHolder(renter.publicKeyPem), { status: true });
    assert.equal(await two.deallocate(renter.publicKeyPem), { status: true });
    assert.is((await containers()).length, 0);
  } finally {
    await mine.release(two);
    await two.stop();
    await run.cleanup();
  }
});

lifecycle('renter dockerfile commands: built on the base, image removed at de-allocation; forbidden ones refused', async (ctx) => {
  const renter = holderKeys();
  const r = await ctx.manager.allocate(request(renter.publicKeyPem, { dockerfile: 'RUN echo built-by-renter > /built\nENV RENTER=yes' }));
  assert.ok(r.status, r.status ? '' : r.error);
  if (!r.status) return;
  assert.is((await sshRun(ctx.port, { password: r.credentials.password }, 'cat /built')).trim(), 'built-by-renter');
  // A fresh container has its disk-IO limits from create, on the pool's disk, one core's worth.
  const [made] = await runContainers(ctx);
  const limits = rentalIoLimits(1, poolDevice(rentalHostLayout().pool)!);
  const blkio = (await ctx.docker.getContainer(made!.Id).inspect()).HostConfig;
  assert.equal(blkio.BlkioDeviceWriteBps, [{ Path: limits.device, Rate: limits.writeBps }]);
  assert.equal(blkio.BlkioDeviceReadIOps, [{ Path: limits.device, Rate: limits.readIops }]);
  const images = await ctx.docker.listImages({ filters: { label: [`${RUN_LABEL}=${ctx.run.id}`] } });
  assert.is(images.length, 1);
  assert.equal(await ctx.manager.deallocate(renter.publicKeyPem), { status: true });
  assert.is((await ctx.docker.listImages({ filters: { label: [`${RUN_LABEL}=${ctx.run.id}`] } })).length, 0);

  const refused = await ctx.manager.allocate(request(renter.publicKeyPem, { dockerfile: 'USER nobody' }));
  assert.equal(refused, { status: false, error: 'dockerfile: USER is not allowed (only RUN, ENV, WORKDIR)' });
  const failing = await ctx.manager.allocate(request(renter.publicKeyPem, { dockerfile: 'RUN exit 3' }));
  assert.is(failing.status, false);
  if (!failing.status) assert.match(failing.error, /^dockerfile build failed/);
  assert.is((await runContainers(ctx)).length, 0);
  assert.is((await ctx.docker.listImages({ filters: { label: [`${RUN_LABEL}=${ctx.run.id}`] } })).length, 0);
  assert.is(ctx.manager.state().allocated, false);
});

lifecycle('resources the host lacks are refused by check and by allocate, and nothing is created', async (ctx) => {
  const renter = holderKeys();
  const tooMany = request(renter.publicKeyPem, { device: { cpu: { count: 64 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 0 }, gpu: {}, testing: false } });
  const check = await ctx.manager.checkFree(tooMany.device);
  assert.is(check.status, false);
  assert.match(check.error ?? '', /^insufficient CPU: 64 cores requested/);
  const gpu = request(renter.publicKeyPem, { device: { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 0 }, gpu: { count: 1 }, testing: false } });
  const noGpu = await ctx.manager.allocate(gpu);
  assert.is(noGpu.status, false);
  if (!noGpu.status) assert.is(noGpu.error, 'no GPU on any host that is up: a GPU request cannot be served');
  assert.equal(await ctx.manager.checkFree(gpu.device), { status: false, error: 'no GPU on any host that is up: a GPU request cannot be served' });
  const memory = await ctx.manager.allocate(request(renter.publicKeyPem, { device: { cpu: { count: 1 }, ram: { capacity: 2 ** 49 }, hard_disk: { capacity: 0 }, gpu: {}, testing: false } }));
  assert.is(memory.status, false);
  if (!memory.status) assert.match(memory.error, /^insufficient memory: 524288 GiB \(562949953421312 bytes\) requested, the largest free on one host is /);
  assert.is((await runContainers(ctx)).length, 0);
  assert.is(ctx.manager.state().allocated, false);
  assert.equal(await ctx.manager.checkFree(request(renter.publicKeyPem).device), { status: true });
});

lifecycle.run();
