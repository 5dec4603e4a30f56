// Changes a started container's disk quota and /dev/shm size from the host, for a standby
// that is claimed: Docker cannot change either after creation. Needs the engine on this
// machine and root: the quota is the btrfs qgroup of the container's subvolume under Docker's
// data root; /dev/shm is remounted inside the container's mount namespace. The standby has
// never been handed to anyone, so the `mount` run there is the base image's own.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The btrfs subvolume of a container's writable layer, under Docker's data root. Pure. */
export function btrfsSubvolumePath(dataRoot: string, mountId: string): string {
  if (!/^[0-9a-f]{64}$/.test(mountId)) throw new Error(`unexpected layer id ${JSON.stringify(mountId.slice(0, 80))}`);
  return join(dataRoot, 'btrfs', 'subvolumes', mountId);
}

function problem(what: string, err: unknown): Error {
  const e = err as { stderr?: string; message?: string };
  return new Error(`${what}: ${(e.stderr || e.message || String(err)).trim().split('\n').slice(-1)[0]}`);
}

/** Sets the container's disk size (bytes referenced by its layer, the image's included). */
export async function setDiskQuota(dataRoot: string, containerId: string, bytes: number): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(containerId)) throw new Error('setDiskQuota needs a full container id');
  const mountId = (await readFile(join(dataRoot, 'image', 'btrfs', 'layerdb', 'mounts', containerId, 'mount-id'), 'utf8')).trim();
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
    await run('nsenter', ['-t', String(pid), '-m', '/bin/mount', '-o', `remount,size=${bytes}`, '/dev/shm'], { timeout: 30_000 });
  } catch (err) {
    throw problem('resizing /dev/shm', err);
  }
}
