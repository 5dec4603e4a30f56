// Expiry and recovery on the real Docker daemon: the deadline ends an allocation by itself;
// a new manager on the same data dir restores a live allocation, ends an expired one, removes
// its own containers that have no record, clears a record whose container is gone, and
// never touches a container that is not its own.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { generateHotkey } from '../protocol/index.js';
import { createContainerManager, type ContainerManager } from '../src/containers/index.js';
import { HOLDER_KEY_FILE, RECORD_FILE } from '../src/containers/store.js';
import { DEFAULT_BASE_TAG } from '../src/containers/names.js';
import { allocationContainers, freePort, removeLabelled, renterKeys, requireDocker, runManagerOptions, RUN_LABEL, sshRun, testRun, type TestRun } from './helpers/docker.js';
import { until } from './helpers/wait.js';

const MiB = 1024 * 1024;
const DAY_S = 86_400;

interface Ctx {
  docker: Dockerode;
  run: TestRun;
  port: number;
  managers: ContainerManager[];
}
const recovery = suite<Ctx>('expiry and reconcile');

recovery.before(async (ctx) => {
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'recon');
  ctx.port = await freePort();
  ctx.managers = [];
});

// Each case starts from nothing, even when the previous one failed half-way.
recovery.after.each(async (ctx) => {
  for (const m of ctx.managers.splice(0)) await m.stop();
  await removeLabelled(ctx.docker, `${RUN_LABEL}=${ctx.run.id}`);
  for (const f of [RECORD_FILE, HOLDER_KEY_FILE]) rmSync(join(ctx.run.dataDir, f), { force: true });
});

recovery.after(async (ctx) => {
  await ctx.run?.cleanup();
});

/** A manager of this run's miner (same data dir, hotkey and prefix every time). */
async function miner(ctx: Ctx): Promise<ContainerManager> {
  const m = createContainerManager(runManagerOptions(ctx.docker, ctx.run, ctx.port));
  ctx.managers.push(m);
  await m.start();
  await m.baseImageReady();
  return m;
}

async function allocate(m: ContainerManager, timelineDays = 1) {
  const renter = renterKeys();
  const r = await m.allocate({
    timelineDays, publicKeyPem: renter.publicKeyPem, sshKey: '', dockerfile: '',
    device: { cpu: { count: 1 }, ram: { capacity: 128 * MiB }, hard_disk: { capacity: 0 }, gpu: {}, testing: false },
  });
  if (!r.status) throw new Error(r.error);
  return { renter, password: r.credentials.password };
}

const containers = async (ctx: Ctx) => allocationContainers(ctx.docker, ctx.run, ctx.manager);
const files = (ctx: Ctx) => [RECORD_FILE, HOLDER_KEY_FILE].filter((f) => existsSync(join(ctx.run.dataDir, f)));

recovery('the deadline ends the allocation by itself (timeline of 2 seconds)', async (ctx) => {
  const m = await miner(ctx);
  const started = Date.now();
  await allocate(m, 2 / DAY_S);
  const replied = Date.now();
  assert.is((await containers(ctx)).length, 1);
  const deadline = m.state().deadline!;
  assert.ok(deadline >= started + 2000 && deadline <= replied + 2000, 'deadline is 2 s after the allocation');
  await until('the container is gone', async () => (await containers(ctx)).length === 0);
  assert.ok(Date.now() - started >= 1900, 'ended before its deadline');
  assert.equal(files(ctx), []);
  assert.is(m.state().allocated, false);
});

recovery('a restarted manager restores a live allocation: same container, same credentials, holder can end it', async (ctx) => {
  const first = await miner(ctx);
  const { renter, password } = await allocate(first);
  const deadline = first.state().deadline;
  await first.stop();
  const second = await miner(ctx);
  assert.is(second.state().allocated, true);
  assert.is(second.state().deadline, deadline);
  assert.is((await sshRun(ctx.port, { password }, 'echo kept')).trim(), 'kept');
  assert.equal(await second.checkHolder(renter.publicKeyPem), { status: true });
  assert.equal(await second.deallocate(renter.publicKeyPem), { status: true });
  assert.is((await containers(ctx)).length, 0);
});

recovery('an allocation that expired while the miner was down is ended at start', async (ctx) => {
  const first = await miner(ctx);
  await allocate(first);
  await first.stop();
  const path = join(ctx.run.dataDir, RECORD_FILE);
  const record = JSON.parse(readFileSync(path, 'utf8')) as { deadline: number };
  writeFileSync(path, JSON.stringify({ ...record, deadline: Date.now() - 1000 }));
  const second = await miner(ctx);
  assert.is(second.state().allocated, false);
  assert.is((await containers(ctx)).length, 0);
  assert.equal(files(ctx), []);
});

recovery('a container of this miner without a record is removed at start', async (ctx) => {
  const first = await miner(ctx);
  await allocate(first);
  await first.stop();
  rmSync(join(ctx.run.dataDir, RECORD_FILE));
  rmSync(join(ctx.run.dataDir, HOLDER_KEY_FILE));
  assert.is((await containers(ctx)).length, 1);
  const second = await miner(ctx);
  assert.is((await containers(ctx)).length, 0);
  assert.is(second.state().allocated, false);
});

recovery('a record whose container is gone is cleared at start', async (ctx) => {
  const first = await miner(ctx);
  await allocate(first);
  await first.stop();
  const [c] = await containers(ctx);
  await ctx.docker.getContainer(c!.Id).remove({ force: true });
  const second = await miner(ctx);
  assert.is(second.state().allocated, false);
  assert.equal(files(ctx), []);
  assert.equal(await second.checkFree({ cpu: { count: 1 }, ram: { capacity: 128 * MiB }, hard_disk: { capacity: 0 }, gpu: {}, testing: false }), { status: true });
});

recovery('a stopped allocation container is started again at start', async (ctx) => {
  const first = await miner(ctx);
  const { renter, password } = await allocate(first);
  await first.stop();
  const [c] = await containers(ctx);
  await ctx.docker.getContainer(c!.Id).stop({ t: 1 });
  const second = await miner(ctx);
  assert.is(second.state().allocated, true);
  await until('SSH answers', () => sshRun(ctx.port, { password }, 'true').then(() => true, () => false));
  assert.equal(await second.deallocate(renter.publicKeyPem), { status: true });
});

recovery('containers that are not this miner\'s are never touched', async (ctx) => {
  const foreignOwner = generateHotkey().ss58Address;
  const make = async (name: string, owner: string) => {
    const c = await ctx.docker.createContainer({
      name, Image: DEFAULT_BASE_TAG, Labels: { ...ctx.run.labels, 'compute-miner.owner': owner, 'compute-miner.role': 'ssh-container' },
    });
    return c.id;
  };
  // Same name scheme, another miner's hotkey; and this miner's hotkey on a name it never uses.
  const other = await make(`${ctx.run.namePrefix}other-ssh-container`, foreignOwner);
  const unnamed = await make(`${ctx.run.namePrefix}something-else`, ctx.run.hotkey.ss58Address);
  const m = await miner(ctx);
  const first = await allocate(m);
  assert.equal(await m.deallocate(first.renter.publicKeyPem), { status: true });
  const left = (await containers(ctx)).map((c) => c.Id).sort();
  assert.equal(left, [other, unnamed].sort());
  await Promise.all(left.map((id) => ctx.docker.getContainer(id).remove({ force: true })));
});

recovery.run();
