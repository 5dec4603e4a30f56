// LXCFS, the rental's own /proc view: its layout and command line, the bind mounts a container
// gets (only the files LXCFS serves, read-only, beside an empty Binds), and the keeper on a real
// lxcfs on a test-owned mount point: started and answering, started again after it is killed,
// a missing binary said once and no mounts given, everything stopped and unmounted at the end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LXCFS_VIEW_FILES, lxcfsViewMounts } from '../src/containers/lxcfs-mounts.js';
import { containerCreateOptions, DEFAULT_CONTAINMENT, type ContainerPlan } from '../src/containers/options.js';
import { keepLxcfs, LXCFS_MOUNT_TYPE, lxcfsArgs, lxcfsLayout, lxcfsRestartDelayMs, type LxcfsKeeper } from '../src/host/lxcfs.js';
import { mountedType } from '../src/host/pool.js';

const GiB = 1024 ** 3;

function capturingLogger() {
  const lines: Array<{ msg: string; level: number; [k: string]: unknown }> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as { msg: string; level: number }); } });
  return { log, lines };
}

const mountType = (path: string) => mountedType(readFileSync('/proc/self/mountinfo', 'utf8'), path);

test('lxcfsLayout: a mount point and pidfile of the miner\'s own under its run dir, the log in its state dir', () => {
  assert.equal(lxcfsLayout(), { mountPoint: '/run/compute-miner/lxcfs', pidfile: '/run/compute-miner/lxcfs.pid', logFile: '/var/lib/compute-miner/lxcfs.log' });
  assert.equal(lxcfsLayout('/s', '/r'), { mountPoint: '/r/lxcfs', pidfile: '/r/lxcfs.pid', logFile: '/s/lxcfs.log' });
});

test('lxcfsArgs: foreground, per-rental load averages, its own pidfile (never the system service\'s), the mount point last', () => {
  assert.equal(lxcfsArgs(lxcfsLayout('/s', '/r')), ['--foreground', '--enable-loadavg', '--pidfile', '/r/lxcfs.pid', '/r/lxcfs']);
});

test('lxcfsRestartDelayMs: 1 s, doubling, at most a minute', () => {
  assert.equal([1, 2, 3, 4, 7, 8, 100].map((n) => lxcfsRestartDelayMs(n)), [1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
  assert.is(lxcfsRestartDelayMs(0), 1000);
});

test('lxcfsViewMounts: read-only binds of exactly the served view files onto the same paths', () => {
  const all = lxcfsViewMounts('/run/compute-miner/lxcfs/', LXCFS_VIEW_FILES);
  assert.equal(all.map((m) => m.Target), [
    '/proc/cpuinfo', '/proc/diskstats', '/proc/loadavg', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime', '/sys/devices/system/cpu/online',
  ]);
  for (const m of all) {
    assert.is(m.Type, 'bind');
    assert.is(m.ReadOnly, true);
    assert.is(m.Source, `/run/compute-miner/lxcfs${m.Target}`);
  }
  // A file this LXCFS does not serve is left out (the kernel's own stays); anything else it serves is never bound.
  assert.equal(lxcfsViewMounts('/m', ['proc/meminfo', 'proc/slabinfo', 'cgroup']).map((m) => m.Target), ['/proc/meminfo']);
  assert.equal(lxcfsViewMounts('/m', []), []);
  assert.throws(() => lxcfsViewMounts('relative', ['proc/meminfo']), /absolute/);
});

const plan = (over: Partial<ContainerPlan> = {}): ContainerPlan => ({
  name: 'p-ssh-container', image: 'ssh-image-base:latest', labels: {}, cpuset: '0', memoryBytes: GiB, shmBytes: GiB, diskBytes: null,
  gpus: 0, sshBind: '127.0.0.1', sshPort: 4444, restartRetries: 5, network: 'p-cm-net-0a1b2c3d', containment: DEFAULT_CONTAINMENT, ...over,
});

test('containerCreateOptions: the view mounts go to HostConfig.Mounts, read-only, and Binds stays empty', () => {
  const mounts = lxcfsViewMounts('/m', ['proc/meminfo', 'sys/devices/system/cpu/online']);
  const h = containerCreateOptions(plan({ viewMounts: mounts })).HostConfig!;
  assert.equal(h.Binds, []);
  assert.equal(h.Mounts, [
    { Type: 'bind', Source: '/m/proc/meminfo', Target: '/proc/meminfo', ReadOnly: true },
    { Type: 'bind', Source: '/m/sys/devices/system/cpu/online', Target: '/sys/devices/system/cpu/online', ReadOnly: true },
  ]);
  // Even a writable entry handed in is made read-only.
  const forced = containerCreateOptions(plan({ viewMounts: [{ Type: 'bind', Source: '/m/proc/stat', Target: '/proc/stat', ReadOnly: false }] })).HostConfig!;
  assert.is(forced.Mounts![0]!.ReadOnly, true);
  assert.is(containerCreateOptions(plan({ viewMounts: [] })).HostConfig!.Mounts, undefined);
  assert.is(containerCreateOptions(plan()).HostConfig!.Mounts, undefined);
});

test('keepLxcfs: a real lxcfs on its own mount point answers, is started again when killed, and is stopped and unmounted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-lxcfs-'));
  const layout = lxcfsLayout(join(dir, 'state'), join(dir, 'run'));
  const { log, lines } = capturingLogger();
  let keeper: LxcfsKeeper | undefined;
  try {
    keeper = await keepLxcfs(layout, { log, checkEveryMs: 200 });
    const first = keeper.report();
    assert.is(first.state, 'serving', `lxcfs must be installed and start as root (node scripts/bootstrap.mjs --for test): ${first.error}`);
    assert.is(mountType(layout.mountPoint), LXCFS_MOUNT_TYPE);
    assert.equal(first.files, [...LXCFS_VIEW_FILES]);
    assert.is(keeper.viewMounts()!.length, LXCFS_VIEW_FILES.length);
    assert.match(readFileSync(join(layout.mountPoint, 'proc/meminfo'), 'utf8'), /^MemTotal:/);
    const pid = Number(readFileSync(layout.pidfile, 'utf8'));
    // Killed hard: the mount is left dead (not connected) and the keeper mounts a new one.
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && keeper.report().restarts < 1) await new Promise((r) => setTimeout(r, 100));
    assert.is(keeper.report().restarts, 1);
    assert.is(keeper.report().state, 'serving');
    assert.is.not(Number(readFileSync(layout.pidfile, 'utf8')), pid);
    assert.match(readFileSync(join(layout.mountPoint, 'proc/uptime'), 'utf8'), /^\d+\.\d+ /);
    assert.ok(lines.some((l) => /stopped answering/.test(l.msg)), 'the restart is logged');
    // A second keeper (a restarted miner) adopts the running lxcfs instead of starting another.
    const again = await keepLxcfs(layout, { log, checkEveryMs: 60_000 });
    again.close();
    assert.is(again.report().state, 'serving');
    assert.is(again.report().restarts, 0);
  } finally {
    await keeper?.shutdown();
    const left = mountType(layout.mountPoint);
    if (left) execFileSync('umount', ['-l', layout.mountPoint]);
    rmSync(dir, { recursive: true, force: true });
    assert.is(left, null, 'shutdown unmounts lxcfs');
  }
});

test('keepLxcfs: a missing lxcfs is one clear error line naming the fix, and rentals get no view mounts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-lxcfs-'));
  const { log, lines } = capturingLogger();
  const keeper = await keepLxcfs(lxcfsLayout(join(dir, 'state'), join(dir, 'run')), { log, binary: join(dir, 'no-such-lxcfs'), checkEveryMs: 50 });
  try {
    assert.is(keeper.report().state, 'missing');
    assert.is(keeper.viewMounts(), null);
    await new Promise((r) => setTimeout(r, 1500)); // a retry or two, backing off
    const errors = lines.filter((l) => l.level >= 50);
    assert.is(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0]!.msg, /host's view of \/proc/);
    assert.match(errors[0]!.msg, /apt-get install lxcfs/);
  } finally {
    await keeper.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
