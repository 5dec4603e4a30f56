// Warm containers of one Docker host: started from the base image on ports the rental service
// chose, on all cores with no memory limit and nobody able to log in, until a rental claims one
// and gets its limits and credentials set on it in one step. Each already carries the id and name
// of the rental that will claim it, since Docker cannot change labels later.
import { randomBytes } from 'node:crypto';
import type { MountSettings } from 'dockerode';
import type { Logger } from '../log.js';
import { formatCpuset } from '../resources/cpuset.js';
import type { WarmPool, WarmSlot } from '../rentals/runtime.js';
import type { DockerHost } from './docker-host.js';
import type { DockerEngine } from './docker.js';
import { readHostKeys } from './host-keys.js';
import { LABELS, rentalContainerName } from './names.js';
import { containerCreateOptions, storageSizeBytes, type Containment } from './options.js';
import { waitForSsh } from './ssh-ready.js';

/** A warm container's /dev/shm and disk headroom until it is claimed and sized for its rental. */
const WARM_SHM_BYTES = 64 * 1024 ** 2;
const WARM_DISK_HEADROOM_BYTES = 1024 ** 3;

interface Entry {
  slot: WarmSlot & { rentalId: string };
  name: string;
  container?: string;
  network?: string;
  hostKeys?: Promise<string[]>;
  ready: boolean;
  /** Settles when its start has finished, either way. */
  started: Promise<void>;
  /** Ends the wait for its sshd when it is discarded (a stopping miner waits for nothing). */
  abort: AbortController;
}

export interface WarmClaim extends WarmSlot {
  container: string;
  name: string;
  network: string;
  hostKeys: Promise<string[]>;
}

export interface DockerWarmPoolOptions {
  engine: DockerEngine;
  host: DockerHost;
  prefix: string;
  baseTag: string;
  sshBind: string;
  sshHost: string;
  sshTimeout: number;
  restartRetries: number;
  containment: Containment;
  log: Logger;
  enabled: boolean;
  labelsOf(id: string): Record<string, string>;
  network(): Promise<string>;
  remove(container: string): Promise<void>;
  isStopped(): boolean;
  /** LXCFS views: read at read time from the cgroup, so they show the limits a claim sets later. */
  viewMounts?: () => MountSettings[] | null;
}

export function warmPool(options: DockerWarmPoolOptions): WarmPool & { claimed(slot: WarmSlot): WarmClaim | undefined; slotIds(): string[]; clear(): Promise<void> } {
  const { engine, host, log } = options;
  const entries: Entry[] = [];
  const taken = new Map<string, WarmClaim>();

  async function discard(entry: Entry): Promise<void> {
    entry.abort.abort();
    await entry.started;
    if (entry.container) await options.remove(entry.container).catch(() => undefined);
    if (entry.network) await engine.removeNetwork(entry.network).catch(() => undefined);
  }

  async function start(entry: Entry): Promise<void> {
    const resources = await host.lastResources();
    const storage = host.storage() ?? resources.storage;
    entry.network = await options.network();
    entry.container = await engine.createContainer(containerCreateOptions({
      name: entry.name, image: options.baseTag,
      labels: { ...options.labelsOf(entry.slot.rentalId), [LABELS.role]: 'ssh-container' },
      cpuset: formatCpuset(Array.from({ length: Math.max(1, resources.cpuCount) }, (_, i) => i)),
      // Nobody can log in until it is claimed; the claim sets memory, /dev/shm and disk for the rental.
      memoryBytes: 0,
      shmBytes: WARM_SHM_BYTES,
      diskBytes: storage.enforced ? storageSizeBytes(WARM_DISK_HEADROOM_BYTES, await host.baseImageBytes()) : null,
      gpus: 0, sshBind: options.sshBind, sshPort: entry.slot.sshPort, renterPorts: entry.slot.renterPorts,
      restartRetries: options.restartRetries, network: entry.network, containment: options.containment,
      viewMounts: options.viewMounts?.() ?? [],
    }));
    await engine.startContainer(entry.container);
    const id = entry.container;
    // Read once sshd answers, off any rental's path: a claim finds them ready.
    entry.hostKeys = waitForSsh(options.sshHost, entry.slot.sshPort, options.sshTimeout, entry.abort.signal).then(() => readHostKeys(engine, id));
    entry.hostKeys.catch(() => undefined);
  }

  return {
    available: () => options.enabled && !options.isStopped() && host.baseImage().state === 'ready',
    serves: (spec) => options.enabled && spec.role === 'rental' && spec.gpusRequested === 0 && spec.dockerfile.trim() === '',
    slots: () => entries.map((e) => e.slot),
    ready: () => entries.filter((e) => e.ready).length,
    slotIds: () => entries.map((e) => e.slot.rentalId),

    take() {
      const index = entries.findIndex((e) => e.ready);
      if (index < 0) return undefined;
      const [entry] = entries.splice(index, 1);
      const { slot } = entry!;
      taken.set(slot.rentalId, { ...slot, container: entry!.container!, name: entry!.name, network: entry!.network!, hostKeys: entry!.hostKeys! });
      return slot;
    },

    /** The container behind a slot `take` gave out (once). */
    claimed(slot) {
      const claim = slot.rentalId ? taken.get(slot.rentalId) : undefined;
      if (claim) taken.delete(slot.rentalId!);
      return claim;
    },

    evict() {
      const entry = entries.shift();
      if (!entry) return undefined;
      log.debug({ port: entry.slot.sshPort }, 'warm container evicted for a rental that needs its ports');
      return { slot: entry.slot, gone: discard(entry) };
    },

    async fill(ports) {
      const rentalId = randomBytes(8).toString('hex');
      const entry: Entry = {
        slot: { sshPort: ports.sshPort, renterPorts: ports.renterPorts, rentalId },
        name: rentalContainerName(options.prefix, 'ssh-container', rentalId), ready: false, started: Promise.resolve(), abort: new AbortController(),
      };
      entries.push(entry);
      const starting = start(entry);
      entry.started = starting.catch(() => undefined);
      try {
        await starting;
      } catch (err) {
        const at = entries.indexOf(entry);
        if (at >= 0) entries.splice(at, 1);
        if (entry.container) await options.remove(entry.container).catch(() => undefined);
        if (entry.network) await engine.removeNetwork(entry.network).catch(() => undefined);
        throw err;
      }
      // Evicted while it started: its ports are someone else's now.
      if (!entries.includes(entry)) return;
      entry.ready = true;
      log.debug({ id: entry.container!.slice(0, 12), port: ports.sshPort }, 'warm container started');
    },

    async clear() {
      const all = entries.splice(0, entries.length);
      await Promise.all(all.map(discard));
    },
  };
}
