// The block device a rental's disk IO lands on: the one mounted under the engine's data root (the
// pool's loop device on the rental daemon). Throttles take a whole disk: the kernel refuses a
// partition's number in blkio.throttle.* and io.max, so a partition gives way to its disk.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseMountinfo } from '../mountinfo.js';

/** The source of the mount that holds `path` (the longest mount point above it), from mountinfo. Pure. */
export function mountSourceOf(mountinfo: string, path: string): string | null {
  let best: { point: string; source: string } | null = null;
  for (const { mountPoint: point, source } of parseMountinfo(mountinfo)) {
    const above = point === '/' || path === point || path.startsWith(`${point}/`);
    // A later mount on the same point hides an earlier one.
    if (above && (!best || point.length >= best.point.length)) best = { point, source };
  }
  return best?.source ?? null;
}

/** Where the host's block devices are described (tests may move it). */
export const SYS_CLASS_BLOCK = '/sys/class/block';

/**
 * The whole-disk device node of a mount source (`/dev/loop0`, `/dev/sda` for `/dev/sda1`), or
 * null when the source is no block device this host lists (overlay, tmpfs, a remote engine's path).
 */
export function wholeDiskOf(source: string, sysClassBlock = SYS_CLASS_BLOCK): string | null {
  if (!source.startsWith('/dev/')) return null;
  // A link such as /dev/disk/by-uuid/… names the device it points to.
  let name = basename(source);
  try {
    name = basename(realpathSync(source));
  } catch { /* not on this machine's /dev: sysfs decides */ }
  const entry = join(sysClassBlock, name);
  if (!existsSync(join(entry, 'dev'))) return null;
  if (!existsSync(join(entry, 'partition'))) return `/dev/${name}`;
  // /sys/class/block/sda1 links into .../block/sda/sda1: the parent directory is the disk.
  return `/dev/${basename(dirname(realpathSync(entry)))}`;
}

/** The whole disk under `dataRoot` on this machine, or null (and why, for the log). */
export function ioDeviceOf(dataRoot: string): { device: string } | { device: null; reason: string } {
  const source = mountSourceOf(readFileSync('/proc/self/mountinfo', 'utf8'), dataRoot);
  const device = source ? wholeDiskOf(source) : null;
  return device ? { device } : { device: null, reason: `the data root ${dataRoot} is on ${source ?? 'no mount'}, not a block device of this machine` };
}
