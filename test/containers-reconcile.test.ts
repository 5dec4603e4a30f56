// Expiry and recovery on the real Docker daemon: the deadline ends a rental by itself; a new
// rental service on the same data dir restores a live rental, releases an expired one, removes
// its own containers that no rental holds, clears a rental whose container is gone, starts a
// stopped one again, adopts the record an older release wrote (allocation.json and
// allocation_key in the data dir), and never touches a container that is not its own.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { generateHotkey } from '../protocol/index.js';
import { allocationStore, HOLDER_KEY_FILE, RECORD_FILE, type AllocationRecord } from '../src/containers/store.js';
import { DEFAULT_BASE_TAG, LABELS } from '../src/containers/names.js';
import { LEDGER_DIR } from '../src/rentals/ledger.js';
import type { Rental } from '../src/rentals/record.js';
import type { RentalService } from '../src/rentals/service.js';
import {
  allocationContainers, createRunRentals, freePort, freePorts, removeLabelled, renterKeys, requireDocker, RUN_LABEL, sshRun, testRun,
  type RunRentalOptions, type TestRun,
} from './helpers/docker.js';
import { until } from './helpers/wait.js';

const MiB = 1024 * 1024;
const DAY_S = 86_400;
/**
 * How long the engine may take to answer before the host counts as down. The machine these
 * suites run on is shared and loaded (docker info has taken 1.9 s there): with the default 1.5 s
 * bound a start now and then finds the host "down" and reconciles only once it answers again.
 */
const ANSWER_BOUND_MS = 10_000;

interface Ctx {
  docker: Dockerode;
  run: TestRun;
  port: number;
  services: RentalService[];
}
const recovery = suite<Ctx>('expiry and reconcile');

recovery.before(async (ctx) => {
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'recon');
  ctx.port = await freePort();
  ctx.services = [];
});

// Each case starts from nothing, even when the previous one failed half-way.
recovery.after.each(async (ctx) => {
  for (const s of ctx.services.splice(0)) await s.stop();
  await removeLabelled(ctx.docker, `${RUN_LABEL}=${ctx.run.id}`);
  rmSync(join(ctx.run.dataDir, LEDGER_DIR), { recursive: true, force: true });
  for (const f of [RECORD_FILE, HOLDER_KEY_FILE]) rmSync(join(ctx.run.dataDir, f), { force: true });
});

recovery.after(async (ctx) => {
  await ctx.run?.cleanup();
});

/** The rental service of this run's miner (same data dir, hotkey, prefix and labels every time), started. */
async function miner(ctx: Ctx, over: RunRentalOptions = {}): Promise<RentalService> {
  const s = createRunRentals(ctx.docker, ctx.run, ctx.port, { answerBoundMs: ANSWER_BOUND_MS, ...over });
  ctx.services.push(s);
  await s.start();
  await s.baseImageReady();
  return s;
}

async function allocate(s: RentalService, timelineDays = 1) {
  const renter = renterKeys();
  const r = await s.allocate({
    timelineDays, publicKeyPem: renter.publicKeyPem, sshKey: '', dockerfile: '',
    device: { cpu: { count: 1 }, ram: { capacity: 128 * MiB }, hard_disk: { capacity: 0 }, gpu: {}, testing: false },
  });
  if (!r.status) throw new Error(r.error);
  const [rental] = s.ledger.all();
  assert.ok(rental, 'the ledger holds the rental');
  return { renter, password: r.credentials.password, rental: rental! };
}

/** The run's containers a service's ledger holds. */
const containers = async (ctx: Ctx, s: RentalService) => allocationContainers(ctx.docker, ctx.run, s);
/** Every container of the run, warm ones included. */
const runContainers = async (ctx: Ctx) => ctx.docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${ctx.run.id}`] } });
/** The ledger's files, and the older release's record files, in the data dir. */
const ledgerFiles = (ctx: Ctx) => {
  try { return readdirSync(join(ctx.run.dataDir, LEDGER_DIR)).filter((f) => f.endsWith('.json')); } catch { return []; }
};
const legacyFiles = (ctx: Ctx) => [RECORD_FILE, HOLDER_KEY_FILE].filter((f) => existsSync(join(ctx.run.dataDir, f)));
const ledgerFile = (ctx: Ctx, id: string) => join(ctx.run.dataDir, LEDGER_DIR, `${id}.json`);
const exists = (ctx: Ctx, id: string) => ctx.docker.getContainer(id).inspect().then(() => true, (e: { statusCode?: number }) => (e.statusCode === 404 ? false : Promise.reject(e)));

recovery('the deadline ends the rental by itself (timeline of 15 seconds)', async (ctx) => {
  const s = await miner(ctx);
  // Claiming the warm container takes a moment even on a loaded machine, well inside the timeline.
  await until('a warm container', async () => s.state().standby, 180_000, 200);
  const started = Date.now();
  const { rental } = await allocate(s, 15 / DAY_S);
  const replied = Date.now();
  assert.ok(replied - started < 15_000, `the reply came after the deadline (${replied - started} ms)`);
  assert.is((await containers(ctx, s)).length, 1);
  assert.equal(ledgerFiles(ctx), [`${rental.id}.json`]);
  const deadline = s.state().deadline!;
  assert.is(deadline, rental.deadline);
  assert.ok(deadline >= started + 15_000 && deadline <= replied + 15_000, 'deadline is 15 s after the allocation');
  await until('the container is gone', async () => !(await exists(ctx, rental.workload!.container)), 90_000, 200);
  assert.ok(Date.now() >= deadline, 'ended before its deadline');
  await until('the ledger forgets it', async () => ledgerFiles(ctx).length === 0 && !s.state().allocated);
});

recovery('a restarted service restores a live rental: same container, same credentials, holder can end it', async (ctx) => {
  const first = await miner(ctx);
  const { renter, password, rental } = await allocate(first);
  const deadline = first.state().deadline;
  await first.stop();
  const second = await miner(ctx);
  assert.is(second.state().allocated, true);
  assert.is(second.state().deadline, deadline);
  assert.equal(second.ledger.all().map((r) => r.workload?.container), [rental.workload!.container]);
  assert.is((await sshRun(ctx.port, { password }, 'echo kept')).trim(), 'kept');
  assert.equal(await second.checkHolder(renter.publicKeyPem), { status: true });
  assert.equal(await second.deallocate(renter.publicKeyPem), { status: true });
  assert.is(await exists(ctx, rental.workload!.container), false);
  assert.equal(ledgerFiles(ctx), []);
});

recovery('a rental that expired while the miner was down is released at start', async (ctx) => {
  const first = await miner(ctx);
  const { rental } = await allocate(first);
  await first.stop();
  const path = ledgerFile(ctx, rental.id);
  const record = JSON.parse(readFileSync(path, 'utf8')) as Rental;
  writeFileSync(path, JSON.stringify({ ...record, deadline: Date.now() - 1000 }));
  const second = await miner(ctx);
  await until('the expired rental released', async () => !(await exists(ctx, rental.workload!.container)) && ledgerFiles(ctx).length === 0);
  assert.is(second.state().allocated, false);
  assert.equal(second.ledger.all(), []);
});

recovery('a container of this miner that no rental holds is removed at start', async (ctx) => {
  const first = await miner(ctx);
  const { rental } = await allocate(first);
  await first.stop();
  rmSync(ledgerFile(ctx, rental.id));
  assert.ok(await exists(ctx, rental.workload!.container));
  const second = await miner(ctx);
  assert.is(await exists(ctx, rental.workload!.container), false);
  assert.is(second.state().allocated, false);
  // Its network went with it: nothing of the run is left but the new warm container's.
  const networks = await ctx.docker.listNetworks({ filters: { label: [`${LABELS.allocation}=${rental.id}`] } });
  assert.equal(networks, []);
});

recovery('a rental whose container is gone is cleared at start', async (ctx) => {
  const first = await miner(ctx);
  const { renter, rental } = await allocate(first);
  await first.stop();
  await ctx.docker.getContainer(rental.workload!.container).remove({ force: true });
  const second = await miner(ctx);
  assert.is(second.state().allocated, false);
  assert.equal(ledgerFiles(ctx), []);
  assert.equal(await second.checkHolder(renter.publicKeyPem), { status: false, error: 'no allocation on this miner' });
  assert.equal(await second.checkFree({ cpu: { count: 1 }, ram: { capacity: 128 * MiB }, hard_disk: { capacity: 0 }, gpu: {}, testing: false }), { status: true });
});

recovery('a stopped rental container is started again at start', async (ctx) => {
  const first = await miner(ctx);
  const { renter, password, rental } = await allocate(first);
  await first.stop();
  await ctx.docker.getContainer(rental.workload!.container).stop({ t: 1 });
  assert.is((await ctx.docker.getContainer(rental.workload!.container).inspect()).State.Status, 'exited');
  const second = await miner(ctx);
  assert.is(second.state().allocated, true);
  // What it needs to start is kept: its network (a stopped container holds no active endpoint on it).
  const network = (await ctx.docker.getContainer(rental.workload!.container).inspect()).HostConfig.NetworkMode ?? '';
  assert.ok(await ctx.docker.getNetwork(network).inspect().then(() => true, () => false), `the rental's network ${network} was removed at start`);
  assert.is((await ctx.docker.getContainer(rental.workload!.container).inspect()).State.Status, 'running');
  await until('SSH answers', () => sshRun(ctx.port, { password }, 'true').then(() => true, () => false));
  assert.equal(await second.deallocate(renter.publicKeyPem), { status: true });
});

recovery('a rental recorded by an older release (allocation.json + allocation_key) is adopted: held, reachable, ended by its holder', async (ctx) => {
  // The older release's rental: a container with the allocation label, named as that release
  // named it, and its record in the data dir instead of the ledger. Renter ports were not
  // recorded then: they are read from the container.
  const renterPool = await freePorts(2, [ctx.port]);
  const over: RunRentalOptions = { renterPortPool: renterPool.join(','), renterPorts: 1 };
  const first = await miner(ctx, over);
  const { renter, password, rental } = await allocate(first);
  await first.stop();
  assert.is(Object.keys(rental.grant.renterPorts).length, 1);
  const oldName = `${ctx.run.namePrefix}ssh-container`;
  await ctx.docker.getContainer(rental.workload!.container).rename({ name: oldName });
  const record: AllocationRecord = {
    version: 1, id: rental.id, holderKey: rental.holderKey, role: 'ssh-container',
    containerId: rental.workload!.container, containerName: oldName, image: rental.workload!.image, ownImage: rental.workload!.ownImage,
    port: rental.grant.sshPort, cpuset: rental.grant.cpuset, createdAt: rental.createdAt, deadline: rental.deadline, keys: rental.keys,
    ...(rental.workload!.network ? { network: rental.workload!.network } : {}),
    memoryBytes: rental.grant.memoryBytes, diskBytes: rental.grant.diskBytes, gpuIds: rental.grant.gpus,
  };
  rmSync(ledgerFile(ctx, rental.id));
  allocationStore(ctx.run.dataDir).write(record);
  assert.equal(legacyFiles(ctx), [RECORD_FILE, HOLDER_KEY_FILE]);

  const second = await miner(ctx, over);
  // Taken into the ledger, the old files gone.
  assert.equal(legacyFiles(ctx), []);
  assert.equal(ledgerFiles(ctx), [`${rental.id}.json`]);
  const adopted = second.ledger.get(rental.id);
  assert.ok(adopted, 'the ledger holds the adopted rental');
  assert.is(adopted!.role, 'rental');
  assert.is(adopted!.host, 'local');
  assert.is(adopted!.deadline, rental.deadline);
  assert.is(adopted!.holderKey, rental.holderKey);
  assert.equal(adopted!.grant.renterPorts, rental.grant.renterPorts, 'renter ports read from the container');
  assert.equal((JSON.parse(readFileSync(ledgerFile(ctx, rental.id), 'utf8')) as Rental).grant.renterPorts, rental.grant.renterPorts, 'and written to the ledger');
  assert.equal(adopted!.workload, { container: rental.workload!.container, name: oldName, image: rental.workload!.image, ownImage: false, ...(rental.workload!.network ? { network: rental.workload!.network } : {}) });
  assert.is(second.state().allocated, true);
  assert.is(second.state().deadline, rental.deadline);
  // The container kept running (the start-up sweep keeps what the ledger holds), its holder is recognised.
  assert.is((await ctx.docker.getContainer(rental.workload!.container).inspect()).State.Status, 'running');
  assert.is((await sshRun(ctx.port, { password }, 'echo adopted')).trim(), 'adopted');
  assert.equal(await second.checkHolder(renter.publicKeyPem), { status: true });
  assert.is(second.holderPort(renter.publicKeyPem), ctx.port);
  // Its SSH port is held: the one-port miner is rented out.
  assert.equal(await second.checkFree({ cpu: { count: 1 }, ram: { capacity: 128 * MiB }, hard_disk: { capacity: 0 }, gpu: {}, testing: false }), { status: false, error: 'already allocated: this miner is rented out' });
  assert.equal(await second.deallocate(renter.publicKeyPem), { status: true });
  assert.is(await exists(ctx, rental.workload!.container), false);
  assert.equal(ledgerFiles(ctx), []);
  if (rental.workload!.network) assert.equal(await ctx.docker.listNetworks({ filters: { name: [rental.workload!.network] } }).then((l) => l.filter((n) => n.Name === rental.workload!.network)), []);
});

recovery('containers that are not this miner\'s are never touched', async (ctx) => {
  const foreignOwner = generateHotkey().ss58Address;
  const make = async (name: string, labels: Record<string, string>) => {
    const c = await ctx.docker.createContainer({ name, Image: DEFAULT_BASE_TAG, Labels: { ...ctx.run.labels, ...labels } });
    return c.id;
  };
  // The rental name scheme and labels of another miner; and the same without any owner label.
  const other = await make(`${ctx.run.namePrefix}ssh-container-0123456789abcdef`, {
    [LABELS.owner]: foreignOwner, [LABELS.role]: 'ssh-container', [LABELS.allocation]: '0123456789abcdef',
  });
  const unowned = await make(`${ctx.run.namePrefix}ssh-container-fedcba9876543210`, { [LABELS.role]: 'ssh-container', [LABELS.allocation]: 'fedcba9876543210' });
  const s = await miner(ctx);
  const first = await allocate(s);
  assert.equal(await s.deallocate(first.renter.publicKeyPem), { status: true });
  await s.stop();
  // The service's own warm containers went with stop(): only the two foreign ones are left.
  const left = (await runContainers(ctx)).map((c) => c.Id).sort();
  assert.equal(left, [other, unowned].sort());
  await Promise.all(left.map((id) => ctx.docker.getContainer(id).remove({ force: true })));
});

recovery.run();
