// Changes a started container's disk quota and /dev/shm size from the host, for a standby
// that is claimed: Docker cannot change either after creation. Needs the engine on this
// machine and root: the quota is the btrfs qgroup of the container's subvolume under Docker's
// data root; /dev/shm is remounted inside the container's mount namespace. The standby has
// never been handed to anyone, so the `mount` run there is the base image's own.
import { execFile } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

function layerPath(dataRoot: string, dir: string, mountId: string): string {
  if (!/^[0-9a-f]{64}$/.test(mountId)) throw new Error(`unexpected layer id ${JSON.stringify(mountId.slice(0, 80))}`);
  return join(dataRoot, 'btrfs', dir, mountId);
}

/** The btrfs subvolume of a container's writable layer, under Docker's data root. Pure. */
export const btrfsSubvolumePath = (dataRoot: string, mountId: string): string => layerPath(dataRoot, 'subvolumes', mountId);

/** Where Docker's btrfs driver keeps a layer's size: it re-applies it each time it mounts the layer. Pure. */
export const btrfsQuotaFilePath = (dataRoot: string, mountId: string): string => layerPath(dataRoot, 'quotas', mountId);

function problem(what: string, err: unknown): Error {
  const e = err as { stderr?: string; message?: string };
  return new Error(`${what}: ${(e.stderr || e.message || String(err)).trim().split('\n').slice(-1)[0]}`);
}

/** Sets the container's disk size (bytes referenced by its layer, the image's included). */
export async function setDiskQuota(dataRoot: string, containerId: string, bytes: number): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(containerId)) throw new Error('setDiskQuota needs a full container id');
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`disk size ${bytes} is not a positive byte count`);
  const mountId = (await readFile(join(dataRoot, 'image', 'btrfs', 'layerdb', 'mounts', containerId, 'mount-id'), 'utf8')).trim();
  // The driver's own record first: any later archive copy or restart mounts the layer again and
  // would put the standby's size back (a claimed rental's disk would silently grow).
  try {
    const file = btrfsQuotaFilePath(dataRoot, mountId);
    await writeFile(`${file}.new`, String(bytes));
    await rename(`${file}.new`, file); // the driver never reads half a number
  } catch (err) {
    throw problem('recording the disk size', err);
  }
  try {
    await run('btrfs', ['qgroup', 'limit', String(bytes), btrfsSubvolumePath(dataRoot, mountId)], { timeout: 30_000 });
  } catch (err) {
    throw problem('setting the disk size', err);
  }
}

/** Resizes the running container's /dev/shm (its own tmpfs, in its own mount namespace). */
export async function setShmSize(pid: number, bytes: number): Promise<void> {
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new Error(`the container has no process to enter (pid ${pid})`);
  try {
    // No new privileges: the image's mount is set-uid to the container's root, which on a
    // remapped daemon is an unprivileged id on the host; run as it, the remount is refused.
    await run('setpriv', ['--no-new-privs', 'nsenter', '-t', String(pid), '-m', '/bin/mount', '-o', `remount,size=${bytes}`, '/dev/shm'], { timeout: 30_000 });
  } catch (err) {
    throw problem('resizing /dev/shm', err);
  }
}
