// A private rental daemon for tests that kill it or reboot its world: the product's own rental
// daemon (btrfs pool, live restore) with every path and name of its own — a pool image, state
// and run dir in a temporary folder, its own bridge, address pool and containerd namespace —
// given to a CLI miner through COMPUTE_MINER_RENTAL_DAEMON. The shared rental daemon and the
// system dockerd are never stopped. destroy() removes all of it, even after a failed test.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import {
  ensureRentalDockerd, rentalDockerdPid, rentalHostLayout, stopRentalDockerd, RENTAL_DAEMON_ENV, type RentalHostLayout, type RentalLayoutOverrides,
} from '../../src/host/rental-dockerd.js';
import { copyImage } from './docker-daemon.js';

const GiB = 1024 ** 3;
export const PRIVATE_POOL_BYTES = 4 * GiB;

export interface PrivateRentalDaemon {
  id: string;
  stateDir: string;
  layout: RentalHostLayout;
  /** The environment a CLI miner (or `host`) needs to use this daemon. */
  env: NodeJS.ProcessEnv;
  docker: Dockerode;
  /** SIGKILL to dockerd, as in a crash. */
  kill(): void;
  /** What a reboot does to the rental daemon's world (see the function). */
  reboot(): Promise<void>;
  destroy(): Promise<void>;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const quiet = (cmd: string, args: string[]) => { try { run(cmd, args); } catch { /* already gone */ } };

/** Mounts at or below `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((m) => m === dir || m.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

/** Processes whose command line holds `needle` (the daemon's shims name its namespace). */
function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(needle)) out.push(Number(entry));
    } catch { /* exited */ }
  }
  return out;
}

/** Kills every process of a container at once, as power-off does (cgroup v2's cgroup.kill; v1: each pid). */
function killContainerProcesses(pid: number): void {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  const kill = line ? join('/sys/fs/cgroup', line.slice(3), 'cgroup.kill') : '';
  if (kill && existsSync(kill)) writeFileSync(kill, '1');
  else process.kill(pid, 'SIGKILL');
}

export async function startPrivateRentalDaemon(shared: Dockerode, imageRefs: string[]): Promise<PrivateRentalDaemon> {
  const id = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `cm-rd-${id}-`));
  chmodSync(dir, 0o711); // the remapped root must reach its data root below (search only)
  const stateDir = join(dir, 'state');
  const overrides: RentalLayoutOverrides = {
    runDir: join(dir, 'run'),
    bridge: `cmk${id}`,
    bridgeAddress: `10.216.${randomInt(1, 254)}.1/24`,
    // Its own rental subnets, apart from the shared daemon's 10.218.0.0/16.
    addressPool: `10.219.${randomInt(0, 16) * 16}.0/20`,
    containerdNamespace: `cm-test-${id}`,
  };
  const layout = rentalHostLayout(stateDir, undefined, overrides);
  const docker = new Dockerode({ socketPath: layout.socket });
  const bridges = new Set<string>([layout.bridge]);

  /** The rental bridges Docker made for this daemon's networks (a reboot takes them away). */
  async function rentalBridges(): Promise<void> {
    for (const n of await docker.listNetworks().catch(() => [])) {
      const name = (n.Options as Record<string, string> | undefined)?.['com.docker.network.bridge.name'];
      if (name?.startsWith('cmr')) bridges.add(name);
    }
  }

  async function reboot(): Promise<void> {
    await rentalBridges();
    const running = await docker.listContainers();
    const pids = await Promise.all(running.map(async (c) => (await docker.getContainer(c.Id).inspect()).State.Pid));
    // Shutdown: the daemon stops (with live restore its containers go on), then power is cut.
    await stopRentalDockerd(layout);
    for (const pid of pids) if (pid > 0) killContainerProcesses(pid);
    for (const shim of processesWith(overrides.containerdNamespace!)) quiet('kill', ['-9', String(shim)]);
    // Nothing is mounted after a reboot; the pool's loop device is gone with it.
    for (const m of mountsUnder(layout.pool.mountPoint)) run('umount', [m]);
    for (const loop of run('losetup', ['-j', layout.pool.image]).split('\n').map((l) => l.split(':')[0]).filter(Boolean)) run('losetup', ['-d', loop!]);
    for (const b of bridges) quiet('ip', ['link', 'delete', b]);
    // The firewall chains stay: they are shared by every rental on this machine (other tests'
    // too); that the miner puts them back when they are gone is host-firewall.test.ts's.
    // /run is a tmpfs: empty after a reboot (and nothing mounted below it, the netns files neither).
    for (const m of mountsUnder(overrides.runDir!)) run('umount', ['-l', m]);
    rmSync(overrides.runDir!, { recursive: true, force: true });
  }

  async function destroy(): Promise<void> {
    await rentalBridges();
    const running = await docker.listContainers({ all: true }).catch(() => []);
    for (const c of running) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await stopRentalDockerd(layout, 10_000).catch(() => false);
    for (const shim of processesWith(overrides.containerdNamespace!)) quiet('kill', ['-9', String(shim)]);
    for (const m of mountsUnder(dir)) quiet('umount', ['-l', m]);
    for (const loop of (() => { try { return run('losetup', ['-j', layout.pool.image]); } catch { return ''; } })().split('\n').map((l) => l.split(':')[0]).filter(Boolean)) quiet('losetup', ['-d', loop!]);
    for (const b of bridges) quiet('ip', ['link', 'delete', b]);
    rmSync(dir, { recursive: true, force: true });
  }

  const env = { ...process.env, [RENTAL_DAEMON_ENV]: JSON.stringify(overrides) };
  const daemon: PrivateRentalDaemon = {
    id, stateDir, layout, env, docker,
    kill() {
      const pid = rentalDockerdPid(layout);
      if (pid === null) throw new Error('the private rental daemon does not run');
      process.kill(pid, 'SIGKILL');
    },
    reboot,
    destroy,
  };
  try {
    await ensureRentalDockerd(layout, { poolSizeBytes: PRIVATE_POOL_BYTES });
    if (imageRefs.length) {
      // The copy is most of a test's time; quota bookkeeping slows it by about a quarter. The
      // quotas are back on before any rental is made, as the product turns them on (simple where
      // the kernel can): the daemon is started again, so its label says how the pool counts.
      run('btrfs', ['quota', 'disable', layout.pool.mountPoint]);
      for (const ref of imageRefs) await copyImage(shared, docker, ref);
      await stopRentalDockerd(layout);
      await ensureRentalDockerd(layout, { poolSizeBytes: PRIVATE_POOL_BYTES });
      quiet('btrfs', ['quota', 'rescan', '-w', layout.pool.mountPoint]); // full qgroups count only after it
    }
  } catch (err) {
    await destroy().catch(() => undefined);
    throw err;
  }
  return daemon;
}
