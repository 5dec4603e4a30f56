// Emptying a stopped container's btrfs layers before Docker removes them. Docker's btrfs
// driver walks every directory of a layer looking for nested subvolumes before deleting it:
// some 2.5 s a layer of the base image here, twice a container (its own layer and "-init").
// Deleting the subvolume directly takes milliseconds; an empty one is put in its place, so
// the driver's own removal (and its bookkeeping) runs as always, over nothing.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { btrfsSubvolumePath } from './resize.js';

const run = promisify(execFile);

/** The container's two layer subvolumes: its own and the "-init" one below it. Pure. */
export function containerLayerPaths(dataRoot: string, mountId: string): string[] {
  const own = btrfsSubvolumePath(dataRoot, mountId);
  return [own, `${own}-init`];
}

/**
 * Swaps each layer of a stopped container for an empty subvolume. A layer that cannot be
 * deleted this way (a subvolume nested in it) is left whole for Docker's own walk; throws only
 * when an empty subvolume could not be put back, which Docker's removal would trip on.
 */
export async function emptyContainerLayers(dataRoot: string, containerId: string): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(containerId)) throw new Error('emptyContainerLayers needs a full container id');
  const mountId = (await readFile(join(dataRoot, 'image', 'btrfs', 'layerdb', 'mounts', containerId, 'mount-id'), 'utf8')).trim();
  for (const path of containerLayerPaths(dataRoot, mountId)) {
    try {
      await run('btrfs', ['subvolume', 'delete', path], { timeout: 30_000 });
    } catch {
      continue; // nested subvolumes, or not a subvolume: Docker removes it the slow way
    }
    await run('btrfs', ['subvolume', 'create', path], { timeout: 30_000 });
  }
}
