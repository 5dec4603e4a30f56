// The storage pool that holds every rental's files: a btrfs file system in an image file,
// loop-mounted, with quotas on, so Docker's btrfs driver enforces `--storage-opt size=`.
// XFS project quotas are not available in every kernel; btrfs qgroups are. Nothing here ever
// formats a file that already exists: a pool image that is not btrfs is an error to act on.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { mountAt } from '../mountinfo.js';
import { ensureQuotas, type QuotaMode } from './pool-quota.js';

const run = promisify(execFile);

export interface PoolPaths {
  /** The image file holding the btrfs file system (sparse: it takes disk as rentals write). */
  image: string;
  /** Where it is mounted; Docker's data root for rentals lives below it. */
  mountPoint: string;
}

export const DEFAULT_POOL_SIZE_BYTES = 32 * 1024 ** 3;
export const MIN_POOL_SIZE_BYTES = 2 * 1024 ** 3;
const BTRFS_MAGIC = Buffer.from('_BHRfS_M', 'latin1');
/** The btrfs super block's magic sits at 64 KiB + 64 bytes. */
const BTRFS_MAGIC_OFFSET = 0x10040;

export class PoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolError';
  }
}

/** Whether these bytes, read at the super block's magic offset, say btrfs. Pure. */
export function isBtrfsMagic(bytes: Buffer): boolean {
  return bytes.length >= BTRFS_MAGIC.length && bytes.subarray(0, BTRFS_MAGIC.length).equals(BTRFS_MAGIC);
}

function imageIsBtrfs(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(BTRFS_MAGIC.length);
    const n = readSync(fd, buf, 0, buf.length, BTRFS_MAGIC_OFFSET);
    return n === buf.length && isBtrfsMagic(buf);
  } finally {
    closeSync(fd);
  }
}

/** The file system type mounted exactly at `path`, from a mountinfo text. Pure. */
export function mountedType(mountinfo: string, path: string): string | null {
  return mountAt(mountinfo, path)?.type ?? null;
}

/**
 * The source of the mount visible at `path`, from a mountinfo text: for the pool, its loop device
 * (`/dev/loop0`), the block device every rental's reads and writes reach. Pure.
 */
export function mountedSource(mountinfo: string, path: string): string | null {
  return mountAt(mountinfo, path)?.source ?? null;
}

/** The block device that holds the pool (its loop device); null when the pool is not mounted. */
export function poolDevice(paths: PoolPaths): string | null {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  if (mountedType(mountinfo, paths.mountPoint) !== 'btrfs') return null;
  const source = mountedSource(mountinfo, paths.mountPoint);
  return source?.startsWith('/dev/') ? source : null;
}

function currentMountType(path: string): string | null {
  return mountedType(readFileSync('/proc/self/mountinfo', 'utf8'), path);
}

async function tool(cmd: string, args: string[], what: string): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { timeout: 60_000 });
    return stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new PoolError(`${what}: ${cmd} is not installed (apt-get install btrfs-progs)`);
    throw new PoolError(`${what}: ${(e.stderr ?? e.message).trim().split('\n').slice(-2).join(' ')}`);
  }
}

export interface PoolStatus {
  image: string;
  mountPoint: string;
  sizeBytes: number;
  freeBytes: number;
  created: boolean;
  /** How the pool counts each container's disk (pool-quota.ts). */
  quota?: QuotaMode;
  /** What the operator should know about it, when anything. */
  quotaNote?: string;
}

/**
 * Makes the pool ready, idempotently: creates the image (only when it does not exist), mounts
 * it, turns quotas on. Refuses an existing image that is not btrfs, and a new pool larger than
 * the free disk under it.
 */
export async function ensurePool(paths: PoolPaths, sizeBytes = DEFAULT_POOL_SIZE_BYTES, dataRoot?: string): Promise<PoolStatus> {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < MIN_POOL_SIZE_BYTES) throw new PoolError(`pool size must be at least 2 GiB, got ${sizeBytes} bytes`);
  let created = false;
  const type = currentMountType(paths.mountPoint);
  if (type !== null && type !== 'btrfs') throw new PoolError(`${paths.mountPoint} is already a ${type} mount, not the btrfs pool`);
  if (type === null) {
    mkdirSync(dirname(paths.image), { recursive: true, mode: 0o700 });
    if (existsSync(paths.image)) {
      if (!imageIsBtrfs(paths.image)) {
        throw new PoolError(`${paths.image} exists but holds no btrfs file system (corrupt or not a pool image); move it away and the next start makes a new pool`);
      }
    } else {
      const free = statfsSync(dirname(paths.image));
      const freeBytes = free.bavail * free.bsize;
      if (freeBytes < sizeBytes) {
        throw new PoolError(`a ${gib(sizeBytes)} pool does not fit: ${gib(freeBytes)} free under ${dirname(paths.image)} (choose a smaller --pool-size)`);
      }
      await tool('truncate', ['-s', String(sizeBytes), paths.image], 'creating the pool image');
      try {
        await tool('mkfs.btrfs', ['-q', '-L', 'compute-miner-pool', paths.image], 'formatting the pool');
      } catch (err) {
        await run('rm', ['-f', paths.image]).catch(() => undefined);
        throw err;
      }
      created = true;
    }
    mkdirSync(paths.mountPoint, { recursive: true, mode: 0o700 });
    await tool('mount', ['-t', 'btrfs', '-o', 'loop', paths.image, paths.mountPoint], 'mounting the pool');
  }
  const device = poolDevice(paths);
  let quota: { mode: QuotaMode; note?: string };
  try {
    if (!device) throw new Error(`${paths.mountPoint} has no block device`);
    quota = await ensureQuotas(paths.mountPoint, device, dataRoot ?? join(paths.mountPoint, 'docker'));
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new PoolError(`enabling quotas on the pool: ${(e.stderr || e.message).trim().split('\n').slice(-1)[0]}`);
  }
  const s = statfsSync(paths.mountPoint);
  return {
    image: paths.image, mountPoint: paths.mountPoint, sizeBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize, created,
    quota: quota.mode, ...(quota.note ? { quotaNote: quota.note } : {}),
  };
}

/** The pool as it is now, without changing anything; null when it is not mounted. */
export function poolStatus(paths: PoolPaths): PoolStatus | null {
  if (currentMountType(paths.mountPoint) !== 'btrfs') return null;
  const s = statfsSync(paths.mountPoint);
  return { image: paths.image, mountPoint: paths.mountPoint, sizeBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize, created: false };
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
