// Inside a real rental, the tools tell its own limits (LXCFS, read-only views over /proc and the
// CPU list): in a 1-core, 1 GiB rental `free` shows at most 1.25 GiB, `nproc` and Python's
// os.cpu_count() say 1, /proc/uptime is the container's age; the same in a warm container the
// rental claimed after it started (LXCFS reads the cgroup at read time). The test owns its
// lxcfs (own mount point, own pidfile) and stops and unmounts it at the end, even on failure;
// no lxcfs on the machine is a failure (bootstrap installs it), never a skip.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/log.js';
import { LXCFS_VIEW_FILES } from '../src/containers/lxcfs-mounts.js';
import { keepLxcfs, lxcfsLayout, type LxcfsKeeper } from '../src/host/lxcfs.js';
import { allocationContainers, renterKeys, sshRun, standbyContainers, startManagerRun, stopManagerRun, type ManagerRun } from './helpers/docker.js';
import { until } from './helpers/wait.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

interface Ctx extends ManagerRun {
  lxcfs: LxcfsKeeper;
  dir: string;
}

const view = suite<Ctx>('a rental\'s own view of /proc');

view.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'cm-own-view-'));
  ctx.lxcfs = await keepLxcfs(lxcfsLayout(join(ctx.dir, 'state'), join(ctx.dir, 'run')), { log: silentLogger() });
  try {
    const state = ctx.lxcfs.report();
    assert.is(state.state, 'serving', `lxcfs must run here (apt-get install lxcfs, or node scripts/bootstrap.mjs --for test): ${state.error}`);
    Object.assign(ctx, await startManagerRun('own-view', { warm: 1, viewMounts: () => ctx.lxcfs.viewMounts() }));
  } catch (err) {
    await ctx.lxcfs.shutdown();
    rmSync(ctx.dir, { recursive: true, force: true });
    throw err;
  }
});

view.after(async (ctx) => {
  try {
    await stopManagerRun(ctx);
  } finally {
    await ctx.lxcfs?.shutdown();
    if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
  }
});

const SHOW = [
  "free -b | awk '/^Mem:/ {print $2}'",
  'nproc',
  "python3 -c 'import os; print(os.cpu_count())'",
  "cut -d' ' -f1 /proc/uptime",
  'cat /sys/devices/system/cpu/online',
  'grep -c ^processor /proc/cpuinfo',
  "grep -c '^cpu[0-9]' /proc/stat",
  '(echo 1 > /proc/meminfo) 2>/dev/null && echo writable || echo read-only',
].join('; ');

/** Seconds since process `pid` started, as the host sees it (its start time in clock ticks after boot). */
function hostProcessAgeSeconds(pid: number): number {
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return uptime - startTicks / 100;
}

/** What the rental on `port` shows of itself, beside its init process's age and the host's uptime. */
async function ownView(ctx: Ctx, port: number, password: string, containerId: string) {
  const [memTotal, nproc, cpuCount, uptime, online, processors, statCpus, write] = (await sshRun(port, { password }, SHOW)).trim().split('\n');
  const { Pid } = (await ctx.docker.getContainer(containerId).inspect()).State;
  const hostUptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return { memTotal: Number(memTotal), nproc, cpuCount, uptime: Number(uptime), ageSeconds: hostProcessAgeSeconds(Pid), hostUptime, online, processors, statCpus, write };
}

function assertOwnLimits(v: Awaited<ReturnType<typeof ownView>>, what: string) {
  assert.ok(v.memTotal > 0 && v.memTotal <= 1.25 * GiB, `${what}: free -b total ${v.memTotal}`);
  assert.is(v.nproc, '1', `${what}: nproc`);
  assert.is(v.cpuCount, '1', `${what}: os.cpu_count()`);
  assert.is(v.processors, '1', `${what}: processors in /proc/cpuinfo`);
  assert.is(v.statCpus, '1', `${what}: cpu lines in /proc/stat`);
  assert.match(v.online, /^\d+$/, `${what}: one CPU online`);
  // The container's age (its init process's, read on the host), not the host's.
  assert.ok(Math.abs(v.uptime - v.ageSeconds) < 3, `${what}: /proc/uptime ${v.uptime} s, the container's init up ${v.ageSeconds.toFixed(1)} s`);
  assert.ok(v.uptime < v.hostUptime - 1, `${what}: /proc/uptime ${v.uptime} s is not the host's ${v.hostUptime} s`);
  assert.is(v.write, 'read-only', `${what}: the view files are read-only`);
}

const oneCoreOneGiB = (publicKeyPem: string, testing: boolean) => ({
  timelineDays: 1, publicKeyPem, sshKey: '', dockerfile: '',
  device: { cpu: { count: 1 }, ram: { capacity: GiB }, hard_disk: { capacity: 512 * MiB }, gpu: {}, testing },
});

view('a warm container claimed by a 1-core, 1 GiB rental shows the claimed limits, not its idle ones', async (ctx) => {
  // Ready (SSH answering), so it is the one the rental claims.
  const warmId = await until('a warm container', async () => ctx.manager.state().standby && (await standbyContainers(ctx.docker, ctx.run, ctx.manager))[0]?.Id, 90_000, 200);
  const mounts = (await ctx.docker.getContainer(warmId).inspect()).HostConfig.Mounts ?? [];
  assert.is(mounts.length, LXCFS_VIEW_FILES.length, 'the warm container was made with the views');
  const holder = renterKeys();
  const r = await ctx.manager.allocate(oneCoreOneGiB(holder.publicKeyPem, false));
  assert.ok(r.status, r.status ? '' : r.error);
  if (!r.status) return;
  try {
    const [claimed] = await allocationContainers(ctx.docker, ctx.run, ctx.manager);
    assert.is(claimed?.Id, warmId, 'the rental claimed the warm container');
    assertOwnLimits(await ownView(ctx, r.port, r.credentials.password, warmId), 'claimed warm container');
  } finally {
    await ctx.manager.deallocate(holder.publicKeyPem);
  }
});

view('a container made for a 1-core, 1 GiB rental shows its own memory, one CPU and its own uptime', async (ctx) => {
  const holder = renterKeys();
  // A test rental never takes the warm container: it is made fresh.
  const r = await ctx.manager.allocate(oneCoreOneGiB(holder.publicKeyPem, true));
  assert.ok(r.status, r.status ? '' : r.error);
  if (!r.status) return;
  try {
    const [made] = await allocationContainers(ctx.docker, ctx.run, ctx.manager);
    assert.ok(made, 'the rental\'s container');
    const hostConfig = (await ctx.docker.getContainer(made.Id).inspect()).HostConfig;
    assert.equal(hostConfig.Binds ?? [], []);
    assert.ok((hostConfig.Mounts ?? []).every((m) => m.Type === 'bind' && m.ReadOnly === true));
    assertOwnLimits(await ownView(ctx, r.port, r.credentials.password, made.Id), 'fresh container');
  } finally {
    await ctx.manager.deallocate(holder.publicKeyPem);
  }
});

view.run();
