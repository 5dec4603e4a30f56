// Removing what a host's rentals leave: containers (their btrfs layers emptied first, so the pool
// gets its space back at once), networks, per-rental images, dangling layers; and the start-up
// sweep of everything of ours that no rental holds.
import type { Logger } from '../log.js';
import { allocationImageTag, LABELS } from './names.js';
import type { DockerEngine } from './docker.js';
import { emptyContainerLayers } from './layer-empty.js';
import { dockerMessage } from './errors.js';

export interface LayerHousekeepingOptions {
  engine: DockerEngine;
  host: { driver(): string | undefined; dataRoot(): string | undefined };
  localEngine: boolean;
  stopSeconds: number;
  /** Labels ("key=value") every object of ours carries. */
  scope: string[];
  log: Logger;
}

export function layerHousekeeping(options: LayerHousekeepingOptions) {
  const { engine, log, scope } = options;

  /** SIGTERM to PID 1 (docker-init forwards it to sshd), bounded wait, forced removal. */
  async function removeContainer(id: string): Promise<void> {
    const current = await engine.inspectContainer(id);
    if (!current) return;
    // A paused container cannot take SIGTERM; forced removal kills it directly.
    if (current.state === 'running' || current.state === 'restarting') await engine.stopContainer(id, options.stopSeconds);
    const dataRoot = options.host.dataRoot();
    if (options.host.driver() === 'btrfs' && dataRoot && options.localEngine && current.state !== 'paused') {
      await emptyContainerLayers(dataRoot, current.id).catch((err: unknown) => log.warn({ id: id.slice(0, 12), err: (err as Error).message }, 'the container\'s layers were not emptied first; Docker removes them'));
    }
    await engine.removeContainer(id);
  }

  async function removeNetwork(name: string | undefined): Promise<void> {
    if (name) await engine.removeNetwork(name).catch((err: unknown) => log.warn({ network: name, err: dockerMessage(err) }, 'network not removed'));
  }

  async function pruneImages(): Promise<void> {
    await engine.pruneDanglingImages(scope).catch((err: unknown) => log.warn({ err: dockerMessage(err) }, 'image prune failed'));
  }

  return {
    removeContainer,
    removeNetwork,
    pruneImages,
    /** Removes every container, per-rental image and network of ours whose rental is not in `keep`. */
    async sweep(keep: ReadonlySet<string>, prefix: string): Promise<void> {
      // A kept rental's network stays even when the network was made ahead without its id (a spare)
      // and its container is stopped (Docker lets such a network go, and the container could not start).
      const keptNetworks = new Set<string>();
      for (const c of await engine.listContainers(scope)) {
        const id = c.labels[LABELS.allocation];
        if (id !== undefined && keep.has(id)) {
          for (const n of (await engine.inspectContainer(c.id))?.networks ?? []) keptNetworks.add(n);
          continue;
        }
        log.warn({ container: c.name, id: c.id.slice(0, 12) }, 'removing a container of this miner that no rental holds');
        await removeContainer(c.id);
      }
      // Older releases named a pool's images with the slot in the prefix: the rental's id is what counts.
      const kept = (tag: string) => [...keep].some((id) => tag === allocationImageTag(prefix, id) || tag.endsWith(allocationImageTag('', id)));
      for (const tag of await engine.listImages([...scope, `${LABELS.kind}=allocation`])) {
        if (kept(tag)) continue;
        log.warn({ image: tag }, 'removing a per-rental image without a rental');
        await engine.removeImage(tag);
      }
      for (const n of await engine.listNetworks([...scope, `${LABELS.kind}=network`])) {
        const id = n.labels[LABELS.allocation];
        if ((id !== undefined && keep.has(id)) || keptNetworks.has(n.name) || keptNetworks.has(n.id)) continue;
        await removeNetwork(n.name);
      }
      await pruneImages();
    },
  };
}
