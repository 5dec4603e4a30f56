// Builds the rental side of the miner: one Docker runtime per host, the ledger, and the rental
// service over them. One machine is a fleet of one host; `--ssh-port N` is a pool of one port.
// Records of older releases (one per SSH port) are adopted into the ledger first.
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { createDockerRuntime, type DockerRuntimeOptions } from '../containers/runtime.js';
import { DEFAULT_BASE_TAG, LABELS } from '../containers/names.js';
import type { Logger } from '../log.js';
import type { PortPool } from '../resources/ports.js';
import { createLedger } from '../rentals/ledger.js';
import { adoptLegacyRecords } from '../rentals/legacy.js';
import { createRentalService, DEFAULT_RENTAL_DISK_BYTES, type RentalService } from '../rentals/service.js';
import type { RentalHost } from '../rentals/hosts.js';
import { engineClient } from './engine.js';
import { countEngineGpus } from './engine-gpus.js';
import type { HostEntry } from './hosts-file.js';
import { ensureImage } from './image-copy.js';

/** What every host's runtime shares; the per-host fields are decided here. */
export type RuntimeCommon = Omit<DockerRuntimeOptions,
  'host' | 'docker' | 'transferDocker' | 'dataDir' | 'sshBind' | 'namePrefix' | 'labels' | 'localEngine' | 'ensureBase' | 'countGpus' | 'warm'>;

/** One Docker host before its runtime exists. */
export interface HostSetup {
  name: string;
  docker: Dockerode;
  /** A client for long uploads (an image load): docker-modem's connect timer would cut them. */
  transfer?: Dockerode;
  endpoint: string;
  /** The engine runs on this machine and the miner is root (warm claims, disk sizes set from the host). */
  localEngine: boolean;
  /** Renters SSH here; absent: the axon's own address. */
  address?: string;
  sshBind: string;
  sshPorts: PortPool;
  renterPortPool: PortPool | null;
  hostReady?: () => { applied: boolean; error?: string };
}

export interface RentalSetup {
  common: RuntimeCommon;
  dataDir: string;
  namePrefix: string;
  /** Extra labels on everything (tests mark their run). */
  labels?: Record<string, string>;
  hosts: HostSetup[];
  /** Ports per rental for the renter's own services. */
  renterPorts: number;
  /** Warm containers kept per host [1]; 0 turns them off. */
  warm?: number;
  /** Disk of a rental whose request names none [10 GiB]. */
  defaultDiskBytes?: number;
  /** Memory kept back from rentals on every host [1 GiB]. */
  memoryReserveBytes?: number;
  /** How long a host's engine may take to answer a question [1500 ms]. */
  answerBoundMs?: number;
  log: Logger;
}

/** Where a host's runtime keeps its build contexts and build lock: the first host in the data dir itself. */
export function hostDataDir(dataDir: string, host: string, first: boolean): string {
  return first ? dataDir : join(dataDir, 'hosts', host);
}

export function composeRentals(setup: RentalSetup): RentalService {
  const baseTag = setup.common.baseImage?.tag ?? DEFAULT_BASE_TAG;
  const ledger = createLedger(setup.dataDir);
  const first = setup.hosts[0];
  if (!first) throw new Error('no host to rent on');
  const adopted = adoptLegacyRecords(setup.dataDir, first.name, ledger);
  for (const rental of adopted.adopted) setup.log.info({ rental: rental.id, host: rental.host, port: rental.grant.sshPort }, 'rental of an older release taken into the ledger');
  for (const problem of adopted.problems) setup.log.error({ problem }, 'a record of an older release could not be read; its container will be removed');
  let builder: ReturnType<typeof createDockerRuntime> | undefined;
  const hosts: RentalHost[] = setup.hosts.map((host, h) => {
    // A remote engine's GPUs, counted once for the host by a short container of the base image.
    let gpus: Promise<number> | undefined;
    const countGpus = () => (gpus ??= countEngineGpus(host.docker, baseTag, { ...setup.labels, [LABELS.owner]: setup.common.minerHotkey }).then((found) => {
      if (found.reason) setup.log.info({ host: host.name, reason: found.reason }, 'no GPUs on host');
      else setup.log.info({ host: host.name, gpus: found.count }, 'GPUs on host');
      return found.count;
    }));
    let ensureBase: (() => Promise<void>) | undefined;
    if (h > 0) {
      // Another engine gets the first host's image by save and load, checked by image id.
      const source = builder!;
      const sourceDocker = first.transfer ?? first.docker;
      ensureBase = async () => {
        await source.baseImageReady();
        const done = await ensureImage(sourceDocker, host.transfer ?? host.docker, baseTag);
        setup.log.info({ host: host.name, image: baseTag, done }, 'base image ready on host');
      };
    }
    const runtime = createDockerRuntime({
      ...setup.common,
      host: host.name,
      docker: host.docker,
      ...(host.transfer ? { transferDocker: host.transfer } : {}),
      dataDir: hostDataDir(setup.dataDir, host.name, h === 0),
      sshBind: host.sshBind,
      namePrefix: setup.namePrefix,
      ...(setup.labels ? { labels: setup.labels } : {}),
      localEngine: host.localEngine,
      ...(host.localEngine ? {} : { countGpus }),
      ...(ensureBase ? { ensureBase } : {}),
      warm: (setup.warm ?? 1) > 0,
      log: setup.log.child({ host: host.name }),
    });
    if (h === 0) builder = runtime;
    return {
      name: host.name, endpoint: host.endpoint, runtime, sshPorts: host.sshPorts, renterPorts: host.renterPortPool,
      ...(host.address !== undefined ? { address: host.address } : {}),
      ...(host.hostReady ? { ready: host.hostReady } : {}),
    };
  });
  return createRentalService({
    hosts, ledger, log: setup.log, renterPortsPerRental: setup.renterPorts,
    defaultDiskBytes: setup.defaultDiskBytes ?? DEFAULT_RENTAL_DISK_BYTES,
    ...(setup.memoryReserveBytes !== undefined ? { memoryReserveBytes: setup.memoryReserveBytes } : {}),
    ...(setup.answerBoundMs !== undefined ? { answerBoundMs: setup.answerBoundMs } : {}),
    warmPerHost: setup.warm ?? 1,
    ...(setup.common.passwordLength !== undefined ? { passwordLength: setup.common.passwordLength } : {}),
  });
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
