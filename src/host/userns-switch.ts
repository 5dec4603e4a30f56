// Switching a rental daemon started without --userns-remap (an older release) to one that remaps.
// A remapped daemon keeps its containers and images in `<uid>.<gid>` below the data root, so the
// old daemon's are invisible to it: the switch is made only when nothing but standbys exists (a
// standby is only a head start, made again). Before the restart the standbys and their networks
// are removed and the base image (and the root file system it was built on) is saved; after it,
// loaded into the remapped daemon: rebuilding it with mmdebstrap would take minutes. What the old
// daemon held is then removed, so its bytes do not stay on the pool unseen.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { LABELS, standbyName } from '../containers/names.js';
import { runningBesidesStandbys } from './daemon-probe.js';
import { ensureRentalUser } from './rental-user.js';
import { restartRentalDockerd, type RentalDaemon, type RentalHostLayout } from './rental-dockerd.js';

const run = promisify(execFile);

/** Images carried over: the base image and the root file system it is built on. */
export const CARRIED_KINDS = ['base', 'rootfs'] as const;

/** Where the carried images wait while the daemon restarts: beside the pool image, not in it. */
export const carryFile = (layout: RentalHostLayout): string => join(dirname(layout.pool.image), 'rental-images.tar');

/** `docker` against the rental daemon; every argument is the miner's own (names, ids, paths). */
async function docker(layout: RentalHostLayout, args: string[], timeoutMs = 120_000): Promise<string> {
  return (await run('docker', ['-H', `unix://${layout.socket}`, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 })).stdout;
}

const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

/** The tags of the images to carry over (dangling or <none> tags cannot be loaded by name). */
async function carriedTags(layout: RentalHostLayout): Promise<string[]> {
  const tags = new Set<string>();
  for (const kind of CARRIED_KINDS) {
    for (const tag of lines(await docker(layout, ['images', '--filter', `label=${LABELS.kind}=${kind}`, '--format', '{{.Repository}}:{{.Tag}}']))) {
      if (!tag.includes('<none>')) tags.add(tag);
    }
  }
  return [...tags];
}

export class SwitchRefused extends Error {}

/**
 * Restarts the rental daemon remapped. Refuses (SwitchRefused, nothing touched) while any
 * container besides standbys exists, running or not. Returns the new daemon.
 */
export async function switchToRemappedDaemon(
  layout: RentalHostLayout,
  opts: { poolSizeBytes?: number; onStep?: (msg: string) => void } = {},
): Promise<RentalDaemon> {
  const say = opts.onStep ?? (() => undefined);
  // First what can fail without loss: the user and its ids.
  await ensureRentalUser(layout.remapUser);
  const refuseWhileOthers = async () => {
    const others = await runningBesidesStandbys(layout.socket, 5000, true);
    if (others !== 0) throw new SwitchRefused(`the rental Docker daemon holds ${others ?? 'an unknown number of'} container(s) besides standbys: it is switched to user namespaces once it holds none`);
  };
  await refuseWhileOthers();
  const file = carryFile(layout);
  try {
    const tags = await carriedTags(layout);
    if (tags.length) {
      await docker(layout, ['save', '-o', file, ...tags], 600_000);
      say(`saved ${tags.join(', ')} to carry them over`);
    }
    const standbys = lines(await docker(layout, ['ps', '-aq', '--filter', `name=${standbyName('')}$`]));
    if (standbys.length) await docker(layout, ['rm', '-f', ...standbys]);
    const networks = lines(await docker(layout, ['network', 'ls', '-q', '--filter', `label=${LABELS.kind}=network`]));
    if (networks.length) await docker(layout, ['network', 'rm', ...networks]);
    // Nothing else exists (checked again): every image goes, or its bytes would stay on the pool unseen.
    await refuseWhileOthers();
    await docker(layout, ['image', 'prune', '-a', '-f'], 600_000);
    say(`removed ${standbys.length} standby(s), ${networks.length} network(s) and the images of the daemon without user namespaces`);
    const daemon = await restartRentalDockerd(layout, opts);
    if (tags.length) {
      await docker(layout, ['load', '-q', '-i', file], 600_000);
      say(`loaded ${tags.join(', ')} into the remapped daemon`);
    }
    return daemon;
  } finally {
    rmSync(file, { force: true });
  }
}
