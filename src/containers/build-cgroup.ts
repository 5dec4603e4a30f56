// A cgroup of its own for a renter's image build, with the rental's pids limit: Docker's build API
// has no pids limit, but it places every RUN step's container under a `cgroupparent`, and a
// parent's pids.max holds all its children. Made on the engine's machine by root, for an engine
// with the cgroupfs driver (under systemd a parent is a slice, which this does not make);
// removed once the build's containers are gone. Paths are pure.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMountinfo } from '../mountinfo.js';
import { cgroupMounts, type CgroupMounts } from './io-throttle.js';

const PREFIX = 'compute-miner-build-';

/** Whose builds: 8 hex of the miner's hotkey, so one miner's sweep never touches another's. Pure. */
export function buildCgroupOwner(minerHotkey: string): string {
  return createHash('sha256').update(minerHotkey).digest('hex').slice(0, 8);
}

/** The build cgroup's name for a rental; rental ids are hex, checked anyway (it becomes a path). */
export function buildCgroupName(owner: string, rentalId: string): string {
  if (!/^[0-9a-f]{8}$/.test(owner)) throw new Error(`unexpected build owner ${JSON.stringify(owner.slice(0, 20))}`);
  if (!/^[0-9a-f]{1,64}$/.test(rentalId)) throw new Error(`unexpected rental id ${JSON.stringify(rentalId.slice(0, 70))}`);
  return `${PREFIX}${owner}-${rentalId}`;
}

/** The directory that holds `name`'s pids.max: the pids hierarchy (v1) or the unified one (v2). Pure. */
export function buildCgroupDir(mounts: CgroupMounts, name: string): { dir: string; version: 1 | 2 } | null {
  if (mounts.pids) return { dir: join(mounts.pids.mountPoint, name), version: 1 };
  if (mounts.unified) return { dir: join(mounts.unified.mountPoint, name), version: 2 };
  return null;
}

/** Every cgroup hierarchy's mount point (v1 controllers and v2), from a mountinfo text. Pure. */
export function cgroupMountPoints(mountinfo: string): string[] {
  return parseMountinfo(mountinfo).filter((m) => (m.type === 'cgroup' || m.type === 'cgroup2') && m.mountPoint.startsWith('/')).map((m) => m.mountPoint);
}

export interface BuildCgroup {
  /** What `cgroupparent` is given: the cgroup's path from the root. */
  parent: string;
  /**
   * Removes the cgroup from every hierarchy (on v1 the runtime makes it in each controller's for
   * the RUN steps and leaves it there); waits a little for Docker to remove its children first.
   */
  remove(): Promise<void>;
}

/** Makes the cgroup with `pidsMax`; on v2 the pids controller must be on in the root's subtree. */
export async function makeBuildCgroup(owner: string, rentalId: string, pidsMax: number, mountinfoPath = '/proc/self/mountinfo'): Promise<BuildCgroup> {
  const name = buildCgroupName(owner, rentalId);
  const mountinfo = await readFile(mountinfoPath, 'utf8');
  const where = buildCgroupDir(cgroupMounts(mountinfo), name);
  if (!where) throw new Error('no pids (cgroup v1) or unified (cgroup v2) hierarchy is mounted');
  if (where.version === 2) {
    const control = await readFile(join(where.dir, '..', 'cgroup.subtree_control'), 'utf8');
    if (!control.split(/\s+/).includes('pids')) throw new Error('the pids controller is not enabled for child cgroups');
  }
  await mkdir(where.dir, { recursive: true });
  await writeFile(join(where.dir, 'pids.max'), String(pidsMax));
  return {
    parent: `/${name}`,
    async remove() {
      for (const point of new Set(cgroupMountPoints(mountinfo))) await removeDir(join(point, name));
    },
  };
}

/**
 * Removes the build cgroups `owner` left when it was killed during a build (called at start,
 * when it has none in flight); one still holding processes stays.
 */
export async function sweepBuildCgroups(owner: string, mountinfoPath = '/proc/self/mountinfo'): Promise<number> {
  const mine = `${PREFIX}${owner}-`;
  let removed = 0;
  for (const point of new Set(cgroupMountPoints(await readFile(mountinfoPath, 'utf8')))) {
    const entries = await readdir(point).catch(() => [] as string[]);
    for (const entry of entries.filter((e) => e.startsWith(mine))) {
      try {
        await rmdir(join(point, entry));
        removed += 1;
      } catch { /* busy: a build's processes are still in it */ }
    }
  }
  return removed;
}

async function removeDir(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`the build cgroup ${dir} is still in use`);
}
