// Builds the rental side of the miner: one container manager per SSH port of every host, and the
// fleet over them. A miner with one host and one port gets that one manager as it always did
// (same data dir layout, same names); a pool or a hosts file gets a fleet.
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { createContainerManager, DEFAULT_RENTAL_DISK_BYTES, type ContainerManager, type ContainerManagerOptions } from '../containers/manager.js';
import { DEFAULT_BASE_TAG, LABELS } from '../containers/names.js';
import type { Logger } from '../log.js';
import { engineClient } from './engine.js';
import { createFleet, type Fleet, type FleetHostPlan } from './fleet.js';
import type { HostEntry } from './hosts-file.js';
import { countEngineGpus } from './engine-gpus.js';
import { ensureImage } from './image-copy.js';
import { renterPortMap, type PortPool } from './ports.js';
import type { RentalSource } from '../status/rentals.js';

/** What every slot shares; the per-slot fields are decided here. */
export type SlotCommon = Omit<ContainerManagerOptions,
  'docker' | 'transferDocker' | 'countGpus' | 'dockerSocket' | 'dataDir' | 'sshPort' | 'sshBind' | 'namePrefix' | 'labels' | 'renterPorts' | 'ensureBase' | 'standby' | 'localEngine' | 'endpoint' | 'hostReady'>;

/** One Docker host before its managers exist. */
export interface HostSetup {
  name: string;
  docker: Dockerode;
  /**
   * A client for long uploads (an image load): docker-modem's connection timer runs until the
   * response begins, so it would cut an upload that takes longer. Absent: `docker`.
   */
  transfer?: Dockerode;
  endpoint: string;
  /** The engine runs on this machine and the miner is root (standby, disk size of a claimed standby). */
  localEngine: boolean;
  /** Renters SSH here; absent: the axon's own address. */
  address?: string;
  sshBind: string;
  sshPorts: PortPool;
  renterPortPool: PortPool | null;
  hostReady?: () => { applied: boolean; error?: string };
}

export interface RentalSetup {
  common: SlotCommon;
  dataDir: string;
  namePrefix: string;
  /** Extra labels on everything (tests mark their run). */
  labels?: Record<string, string>;
  hosts: HostSetup[];
  /** Ports per rental for the renter's own services. */
  renterPorts: number;
  /** Keep a started standby on each host's first port [true]. */
  standby?: boolean;
  log: Logger;
}

export interface Rentals {
  manager: ContainerManager;
  /** Present when the miner has several ports or hosts. */
  fleet: Fleet | null;
  /** Every slot's record and engine, for the status page (read-only). */
  sources: RentalSource[];
}

/** Data dir, name prefix and labels of one slot. The first port of the first host keeps the one-port layout. Pure. */
export function slotPlan(setup: Pick<RentalSetup, 'dataDir' | 'namePrefix' | 'labels'>, host: string, port: number, first: boolean, many: boolean): { dataDir: string; namePrefix: string; labels: Record<string, string> } {
  const labels = { ...setup.labels, ...(many ? { [LABELS.slot]: `${host}/${port}` } : {}) };
  if (first) return { dataDir: setup.dataDir, namePrefix: setup.namePrefix, labels };
  return { dataDir: join(setup.dataDir, 'slots', host, String(port)), namePrefix: `${setup.namePrefix}${host}-p${port}-`, labels };
}

/** The renter ports of the slot at `index`: its own share of the host's pool. Pure. */
export function slotRenterPorts(pool: PortPool | null, perRental: number, index: number): Record<string, number> {
  if (!pool || perRental === 0) return {};
  const share = pool.ports.slice(index * perRental, (index + 1) * perRental);
  if (share.length < perRental) throw new Error(`renter port pool ${pool.text}: too few ports for SSH port number ${index + 1} (${perRental} each)`);
  return renterPortMap(share);
}

export function composeRentals(setup: RentalSetup): Rentals {
  const many = setup.hosts.length > 1 || setup.hosts.some((h) => h.sshPorts.ports.length > 1);
  const baseTag = setup.common.baseImage?.tag ?? DEFAULT_BASE_TAG;
  let builder: ContainerManager | undefined;
  let builderDocker: Dockerode | undefined;
  const sources: RentalSource[] = [];
  const plans: FleetHostPlan[] = setup.hosts.map((host, h) => {
    const slots: ContainerManager[] = [];
    // A remote engine's GPUs, counted once for the host by a short container of the base image.
    let gpus: Promise<number> | undefined;
    const countGpus = () => (gpus ??= countEngineGpus(host.docker, baseTag, { ...setup.labels, [LABELS.owner]: setup.common.minerHotkey }).then((found) => {
      if (found.reason) setup.log.info({ host: host.name, reason: found.reason }, 'no GPUs on host');
      else setup.log.info({ host: host.name, gpus: found.count }, 'GPUs on host');
      return found.count;
    }));
    host.sshPorts.ports.forEach((port, i) => {
      const plan = slotPlan(setup, host.name, port, h === 0 && i === 0, many);
      const hostFirst = slots[0];
      let ensureBase: (() => Promise<void>) | undefined;
      if (h > 0 && i === 0) {
        // Another engine gets the first host's image by save and load, checked by image id.
        const source = builder!;
        const sourceDocker = builderDocker!;
        ensureBase = async () => {
          await source.baseImageReady();
          const done = await ensureImage(sourceDocker, host.transfer ?? host.docker, baseTag);
          setup.log.info({ host: host.name, image: baseTag, done }, 'base image ready on host');
        };
      } else if (i > 0) {
        ensureBase = () => hostFirst!.baseImageReady();
      }
      const slot = createContainerManager({
        ...setup.common,
        docker: host.docker,
        ...(host.transfer ? { transferDocker: host.transfer } : {}),
        endpoint: host.endpoint,
        localEngine: host.localEngine,
        ...(host.localEngine ? {} : { countGpus }),
        ...(host.hostReady ? { hostReady: host.hostReady } : {}),
        dataDir: plan.dataDir,
        namePrefix: plan.namePrefix,
        labels: plan.labels,
        sshPort: port,
        sshBind: host.sshBind,
        renterPorts: slotRenterPorts(host.renterPortPool, setup.renterPorts, i),
        // One standby per host, on its first port: the others get a container of their own.
        standby: (setup.standby ?? true) && i === 0,
        ...(ensureBase ? { ensureBase } : {}),
        log: setup.log.child({ host: host.name, sshPort: port }),
      });
      slots.push(slot);
      sources.push({ ...(many ? { host: host.name } : {}), dataDir: plan.dataDir, docker: host.docker });
      if (h === 0 && i === 0) { builder = slot; builderDocker = host.transfer ?? host.docker; }
    });
    return { name: host.name, endpoint: host.endpoint, slots, ...(host.address !== undefined ? { address: host.address } : {}) };
  });
  if (!many) return { manager: plans[0]!.slots[0]!, fleet: null, sources };
  const fleet = createFleet({ hosts: plans, log: setup.log, defaultDiskBytes: setup.common.defaultDiskBytes ?? DEFAULT_RENTAL_DISK_BYTES });
  return { manager: fleet, fleet, sources };
}

/** The hosts of a hosts file as setups: each engine's own client (mutual TLS for tcp). */
export function hostsFromFile(entries: readonly HostEntry[], root: boolean): HostSetup[] {
  return entries.map((entry) => ({
    name: entry.name,
    docker: engineClient(entry),
    transfer: engineClient(entry, { connectTimeoutMs: 0 }),
    endpoint: entry.engineText,
    localEngine: root && entry.engine.kind === 'unix',
    address: entry.address,
    sshBind: entry.sshBind,
    sshPorts: entry.sshPorts,
    renterPortPool: entry.renterPorts,
  }));
}
