// A rental's own view of /proc and of its CPUs: LXCFS serves these files computed from the
// reading process's cgroup (its cpuset, memory limit, start time), so `free`, `top`, `nproc`
// and `os.cpu_count()` inside a rental tell its limits, not the host's. Pure: which files,
// and the Docker Engine's mount entries that lay them over the container's own.
import type { MountSettings } from 'dockerode';

/** The files a rental sees through LXCFS, relative to its mount point and to the container's root. */
export const LXCFS_VIEW_FILES = [
  'proc/cpuinfo',
  'proc/diskstats',
  'proc/loadavg',
  'proc/meminfo',
  'proc/stat',
  'proc/swaps',
  'proc/uptime',
  'sys/devices/system/cpu/online',
] as const;

export type LxcfsViewFile = (typeof LXCFS_VIEW_FILES)[number];

/**
 * Read-only bind mounts of the view files `provided` (those this LXCFS actually serves) from
 * `mountPoint` onto the same paths in the container. A file LXCFS does not serve is left out,
 * so the container keeps the kernel's own file there rather than failing to start.
 */
export function lxcfsViewMounts(mountPoint: string, provided: readonly string[]): MountSettings[] {
  const root = mountPoint.replace(/\/+$/, '');
  if (!root.startsWith('/')) throw new Error(`the lxcfs mount point must be an absolute path, got ${mountPoint}`);
  const served = new Set(provided);
  return LXCFS_VIEW_FILES.filter((file) => served.has(file)).map((file) => ({
    Type: 'bind', Source: `${root}/${file}`, Target: `/${file}`, ReadOnly: true,
  }));
}
