// What a container of an image references on btrfs from its first moment: the image's top
// layer subvolume as the filesystem counts it (4 KiB blocks, metadata), some 5% more than the
// image's own byte count. A disk limit of "request + image" must use this figure, or a small
// rental loses a sixth of what it asked for.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { btrfsSubvolumePath } from './resize.js';

const run = promisify(execFile);
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The chain id of a layer stack (bottom first), as Docker's layer store names it. Pure. */
export function chainId(diffIds: readonly string[]): string {
  if (diffIds.length === 0) throw new Error('an image without layers');
  let chain = '';
  for (const diff of diffIds) {
    if (!DIGEST.test(diff)) throw new Error(`not a layer digest: ${JSON.stringify(diff.slice(0, 80))}`);
    chain = chain === '' ? diff : `sha256:${createHash('sha256').update(`${chain} ${diff}`).digest('hex')}`;
  }
  return chain;
}

/** Referenced bytes of the one subvolume in `btrfs qgroup show --raw -rf` output. Pure. */
export function referencedBytes(qgroupShow: string): number {
  const row = qgroupShow.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => /^0\/\d+$/.test(f[0] ?? ''));
  const bytes = Number(row?.[1]);
  if (!row || !Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`no referenced byte count in: ${qgroupShow.trim().slice(0, 200)}`);
  return bytes;
}

/** Bytes the top layer of `diffIds` references in Docker's btrfs data root. */
export async function imageReferencedBytes(dataRoot: string, diffIds: readonly string[]): Promise<number> {
  const chain = chainId(diffIds).slice('sha256:'.length);
  const cacheId = (await readFile(join(dataRoot, 'image', 'btrfs', 'layerdb', 'sha256', chain, 'cache-id'), 'utf8')).trim();
  const { stdout } = await run('btrfs', ['qgroup', 'show', '--raw', '-rf', btrfsSubvolumePath(dataRoot, cacheId)], { timeout: 30_000 });
  return referencedBytes(stdout);
}
