// How the pool counts each rental's disk. Docker's btrfs driver limits a container with a qgroup
// limit on its subvolume; btrfs has two ways to keep those counts:
// - full qgroups walk every extent's back references at each commit and each subvolume delete.
//   With many containers made and removed (rentals, test rentals, the warm pool, builds) the
//   cleaner falls behind; pending deletes make every walk longer, and a commit took 20–60 s after
//   a few hours of churn on a 2-core machine (1,433 deletes pending; disabling quotas cleared them
//   in under 30 s).
// - simple quotas (Linux 6.7 and later) count an extent to the subvolume that wrote it, with no
//   walk: deletes and commits stay cheap, and a container's count is what the renter wrote, not
//   the image it started from.
// A new pool gets simple quotas where the kernel has them, full qgroups elsewhere. An existing
// pool with full qgroups is switched only while it holds no container, since switching drops
// every limit. Debian 12's btrfs-progs (6.2) cannot ask for simple quotas, so the ioctl is made
// directly (BTRFS_IOC_QUOTA_CTL, command 4) by a fixed python3 program.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type QuotaMode = 'off' | 'full' | 'simple';

/** BTRFS_IOC_QUOTA_CTL = _IOWR(0x94, 40, struct { u64 cmd; u64 status; }). */
const BTRFS_IOC_QUOTA_CTL = 0xc0109428;
const QUOTA_CTL_ENABLE_SIMPLE = 4;
const ENABLE_SIMPLE_PROGRAM = [
  'import fcntl, os, struct, sys',
  'fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)',
  `fcntl.ioctl(fd, ${BTRFS_IOC_QUOTA_CTL}, struct.pack("QQ", ${QUOTA_CTL_ENABLE_SIMPLE}, 0))`,
].join('\n');

/** The quota mode from the text of sysfs' `qgroups/mode` (absent: quotas off). Pure. */
export function parseQuotaMode(modeText: string | null): QuotaMode {
  if (modeText === null) return 'off';
  const m = modeText.trim();
  if (m === 'squota') return 'simple';
  if (m === 'qgroup') return 'full';
  return 'off';
}

/** The sysfs folder of the btrfs file system whose device is `device` (`/dev/loop0`). */
function sysfsFolder(device: string, root = '/sys/fs/btrfs'): string | null {
  const name = basename(device);
  for (const uuid of readdirSync(root)) {
    if (existsSync(join(root, uuid, 'devices', name))) return join(root, uuid);
  }
  return null;
}

/** The pool's quota mode now, read from sysfs. */
export function quotaMode(device: string): QuotaMode {
  const folder = sysfsFolder(device);
  if (!folder || !existsSync(join(folder, 'qgroups'))) return 'off';
  const modeFile = join(folder, 'qgroups', 'mode');
  // Kernels before simple quotas have no mode file: enabled means full.
  return existsSync(modeFile) ? parseQuotaMode(readFileSync(modeFile, 'utf8')) : 'full';
}

async function btrfs(args: string[]): Promise<void> {
  await run('btrfs', args, { timeout: 120_000 });
}

async function enableSimple(mountPoint: string): Promise<boolean> {
  try {
    await run('python3', ['-c', ENABLE_SIMPLE_PROGRAM, mountPoint], { timeout: 60_000 });
    return true;
  } catch {
    return false; // an older kernel (EINVAL) or no python3: full qgroups instead
  }
}

/** Whether this one Docker root holds any container. */
export function holdsOwnContainers(root: string): boolean {
  const dir = join(root, 'containers');
  return existsSync(dir) && readdirSync(dir).length > 0;
}

/**
 * Whether Docker's data root under the pool holds any container (their limits live in qgroups):
 * its own, or a remapped daemon's, which lives in `<uid>.<gid>` below it.
 */
export function holdsContainers(dataRoot: string): boolean {
  const remapped = existsSync(dataRoot) ? readdirSync(dataRoot).filter((d) => /^\d+\.\d+$/.test(d)) : [];
  return [dataRoot, ...remapped.map((d) => join(dataRoot, d))].some(holdsOwnContainers);
}

/**
 * Turns quotas on, simple where the kernel can; switches a full-qgroup pool with no container to
 * simple. Returns the mode it leaves and, when it switched or could not, a line for the operator.
 */
export async function ensureQuotas(mountPoint: string, device: string, dataRoot: string): Promise<{ mode: QuotaMode; note?: string }> {
  const before = quotaMode(device);
  if (before === 'simple') return { mode: before };
  if (before === 'off') {
    if (await enableSimple(mountPoint)) return { mode: 'simple' };
    await btrfs(['quota', 'enable', mountPoint]);
    return { mode: 'full', note: 'this kernel has no simple quotas (Linux 6.7+): the pool counts disk with full qgroups, which slow down as containers come and go' };
  }
  if (holdsContainers(dataRoot)) {
    return { mode: before, note: 'the pool counts disk with full qgroups; it switches to simple quotas at a start when it holds no container' };
  }
  await btrfs(['quota', 'disable', mountPoint]);
  if (await enableSimple(mountPoint)) return { mode: 'simple', note: 'switched the pool from full qgroups to simple quotas' };
  await btrfs(['quota', 'enable', mountPoint]);
  return { mode: 'full' };
}
