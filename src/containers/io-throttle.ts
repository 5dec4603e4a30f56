// Sets a running container's disk-IO limits from the host, for a standby that is claimed:
// `docker update` cannot change device throttles. Writes blkio.throttle.* under the container's
// cgroup on cgroup v1 and io.max on cgroup v2; the cgroup is the one of the container's first
// process (/proc/<pid>/cgroup), which a renter cannot leave (the cgroup file system is read-only
// inside). Needs root on the machine of the engine. The path and text parts are pure.
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseMountinfo } from '../mountinfo.js';
import type { IoLimits } from './io-limits.js';

export type CgroupVersion = 1 | 2;

/** Where the blkio and pids (v1) and unified (v2) hierarchies are mounted, with each mount's root. */
export interface CgroupMounts {
  blkio?: { mountPoint: string; root: string };
  pids?: { mountPoint: string; root: string };
  unified?: { mountPoint: string; root: string; };
}

/** The cgroup hierarchies mounted, from a mountinfo text. Pure. */
export function cgroupMounts(mountinfo: string): CgroupMounts {
  const found: CgroupMounts = {};
  for (const m of parseMountinfo(mountinfo)) {
    const mount = { mountPoint: m.mountPoint, root: m.root };
    const controllers = m.superOptions.split(',');
    if (m.type === 'cgroup' && controllers.includes('blkio')) found.blkio = mount;
    if (m.type === 'cgroup' && controllers.includes('pids')) found.pids = mount;
    if (m.type === 'cgroup2') found.unified = mount;
  }
  return found;
}

/** A process's cgroup in the blkio hierarchy (v1) or the unified one (v2), from /proc/<pid>/cgroup. Pure. */
export function processCgroup(procCgroup: string, version: CgroupVersion): string | null {
  for (const line of procCgroup.split('\n')) {
    const [id, controllers, ...rest] = line.split(':');
    const path = rest.join(':');
    if (!id || controllers === undefined || !path) continue;
    if (version === 1 && controllers.split(',').includes('blkio')) return path;
    if (version === 2 && id === '0' && controllers === '') return path;
  }
  return null;
}

/** Directory of a cgroup under a hierarchy's mount (a mount of a sub-tree drops its root). Pure. */
export function cgroupDirectory(mount: { mountPoint: string; root: string }, cgroup: string): string {
  const relative = mount.root !== '/' && cgroup.startsWith(mount.root) ? cgroup.slice(mount.root.length) : cgroup;
  if (relative.split('/').includes('..')) throw new Error(`unexpected cgroup path ${JSON.stringify(cgroup)}`);
  return join(mount.mountPoint, relative);
}

/** `major:minor` of a block device as the kernel prints it (`7:0`), checked. Pure. */
export function deviceNumber(text: string): string {
  const n = text.trim();
  if (!/^\d+:\d+$/.test(n)) throw new Error(`unexpected device number ${JSON.stringify(n.slice(0, 40))}`);
  return n;
}

/** The four cgroup v1 throttle files and their lines. Pure. */
export function v1ThrottleWrites(limits: IoLimits, device: string): Array<{ file: string; text: string }> {
  return [
    { file: 'blkio.throttle.read_bps_device', text: `${device} ${limits.readBps}` },
    { file: 'blkio.throttle.write_bps_device', text: `${device} ${limits.writeBps}` },
    { file: 'blkio.throttle.read_iops_device', text: `${device} ${limits.readIops}` },
    { file: 'blkio.throttle.write_iops_device', text: `${device} ${limits.writeIops}` },
  ];
}

/** The cgroup v2 io.max line. Pure. */
export function v2IoMaxLine(limits: IoLimits, device: string): string {
  return `${device} rbps=${limits.readBps} wbps=${limits.writeBps} riops=${limits.readIops} wiops=${limits.writeIops}`;
}

/** Which hierarchy holds a process's IO limits: v1 when a blkio hierarchy is mounted and the process is in it, else v2. Pure. */
export function ioCgroupVersion(mounts: CgroupMounts, procCgroup: string): CgroupVersion | null {
  if (mounts.blkio && processCgroup(procCgroup, 1) !== null) return 1;
  if (mounts.unified && processCgroup(procCgroup, 2) !== null) return 2;
  return null;
}

export interface IoThrottleResult {
  version: CgroupVersion;
  /** The cgroup files written. */
  files: string[];
}

/** Where the host's files are read (tests and other mounts may move them). */
export interface HostPaths { proc: string; sysClassBlock: string }
const HOST: HostPaths = { proc: '/proc', sysClassBlock: '/sys/class/block' };

/**
 * Sets `limits` on the running container whose first process is `pid`, by writing its cgroup's
 * throttle files. The device is `limits.device` (its `major:minor` from /sys/class/block).
 */
export async function setIoLimits(pid: number, limits: IoLimits, host: HostPaths = HOST): Promise<IoThrottleResult> {
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new Error(`the container has no process to find its cgroup by (pid ${pid})`);
  const device = deviceNumber(await readFile(join(host.sysClassBlock, basename(limits.device), 'dev'), 'utf8'));
  const [mountinfo, procCgroup] = await Promise.all([
    readFile(join(host.proc, 'self', 'mountinfo'), 'utf8'),
    readFile(join(host.proc, String(pid), 'cgroup'), 'utf8'),
  ]);
  const mounts = cgroupMounts(mountinfo);
  const version = ioCgroupVersion(mounts, procCgroup);
  if (version === null) throw new Error('no blkio (cgroup v1) or unified (cgroup v2) hierarchy holds the container');
  const files: string[] = [];
  if (version === 1) {
    const dir = cgroupDirectory(mounts.blkio!, processCgroup(procCgroup, 1)!);
    for (const w of v1ThrottleWrites(limits, device)) {
      const file = join(dir, w.file);
      await writeFile(file, w.text);
      files.push(file);
    }
  } else {
    const file = join(cgroupDirectory(mounts.unified!, processCgroup(procCgroup, 2)!), 'io.max');
    await writeFile(file, v2IoMaxLine(limits, device));
    files.push(file);
  }
  return { version, files };
}
