// The Docker runtime of one host: a rental's workload is a container on a bridge of its own,
// made from the base image (or the renter's image built on it), limited as its grant says, its
// credentials handed over on stdin. Every object carries the miner's owner label and the rental's
// id, so the host's reconcile finds exactly what is ours.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import type { MountSettings } from 'dockerode';
import type { Logger } from '../log.js';
import { containerRole, type Workload } from '../rentals/record.js';
import { NOTICES_PATH } from '../rentals/events.js';
import { parseCpuset } from '../resources/cpuset.js';
import { RefusalError, type MadeRental, type OwnedWorkload, type RentalRuntime, type RentalSecrets, type RentalSpec, type WarmSlot } from '../rentals/runtime.js';
import { CREDENTIALS_ACK } from './base-image.js';
import { buildCgroupOwner, makeBuildCgroup, sweepBuildCgroups, type BuildCgroup } from './build-cgroup.js';
import { dockerHost } from './docker-host.js';
import { followEngineEvents } from './engine-events.js';
import { dockerodeEngine, DockerUnavailableError, type ContainerDetail } from './docker.js';
import { rentalHealth } from './health.js';
import { readHostKeys } from './host-keys.js';
import { DEFAULT_IO_RULE, rentalIoLimits, type IoLimits, type IoRule } from './io-limits.js';
import { setIoLimits } from './io-throttle.js';
import { layerHousekeeping } from './layers.js';
import { motdText } from './motd.js';
import { allocationImageTag, DEFAULT_BASE_TAG, LABELS, rentalContainerName, rentalNetworkName } from './names.js';
import {
  containerCreateOptions, containmentProblem, DEFAULT_CONTAINMENT, DEFAULT_MAX_SHM_BYTES, DEFAULT_RESTART_RETRIES,
  rentalNetworkOptions, renterDockerfile, shmSizeBytes, storageSizeBytes, type Containment,
} from './options.js';
import { setDiskQuota, setShmSize } from './resize.js';
import { credentialsPayload } from './secrets.js';
import { probeAddress, waitForSsh } from './ssh-ready.js';
import { warmPool } from './warm-pool.js';

export interface DockerRuntimeOptions {
  /** The host's name in the ledger. */
  host: string;
  docker: Dockerode;
  /** A client for long uploads (the base image import): no connect timer cuts it. */
  transferDocker?: Dockerode;
  /** Where renter build contexts and the base image build lock live. */
  dataDir: string;
  /** SS58 of this miner: the owner label of everything it creates. */
  minerHotkey: string;
  /** Host address SSH and renter ports are published on. */
  sshBind: string;
  /** Prefix of container and image names [''], so tests never collide with a real miner. */
  namePrefix?: string;
  /** Extra labels on everything (tests mark their run with one); sweeps touch only objects with all of them. */
  labels?: Record<string, string>;
  baseImage?: { from?: string; tag?: string; pullTimeoutMs?: number };
  log: Logger;
  /** Seconds between SIGTERM and SIGKILL when a container is stopped [2]. */
  stopTimeoutSeconds?: number;
  /** How long SSH may take to answer after start or restart [30 s]. */
  sshReadyTimeoutMs?: number;
  /** Longest build of a renter's `dockerfile` commands [10 min]. */
  dockerfileBuildTimeoutMs?: number;
  maxShmBytes?: number;
  restartRetries?: number;
  gpuCount?: number;
  countGpus?: () => Promise<number>;
  containment?: Partial<Containment>;
  /** The engine runs on this machine and the miner is root [true when root]: warm claims possible. */
  localEngine?: boolean;
  /** Keep warm containers at all [true] (how many is the rental service's decision). */
  warm?: boolean;
  ensureBase?: () => Promise<void>;
  /** Root password length [24]. */
  passwordLength?: number;
  /** The rental's own /proc view (LXCFS bind mounts) for each new container; null or absent: the host's. */
  viewMounts?: () => MountSettings[] | null;
  /** Disk-IO per rented core on the data root's disk [DEFAULT_IO_RULE]; null: no IO limits. */
  ioRule?: IoRule | null;
}

export const DEFAULT_STOP_TIMEOUT_SECONDS = 2;
export const DEFAULT_SSH_READY_TIMEOUT_MS = 30_000;
export const DEFAULT_DOCKERFILE_BUILD_TIMEOUT_MS = 10 * 60_000;
/** /dev/shm of a build's RUN steps (Docker's own default size). */
const BUILD_SHM_BYTES = 64 * 1024 ** 2;

export function createDockerRuntime(options: DockerRuntimeOptions): RentalRuntime & { dockerHost: ReturnType<typeof dockerHost> } {
  const log = options.log.child({ component: 'runtime', host: options.host });
  const engine = dockerodeEngine(options.docker);
  const prefix = options.namePrefix ?? '';
  const baseTag = options.baseImage?.tag ?? DEFAULT_BASE_TAG;
  const stopSeconds = options.stopTimeoutSeconds ?? DEFAULT_STOP_TIMEOUT_SECONDS;
  const restartRetries = options.restartRetries ?? DEFAULT_RESTART_RETRIES;
  const sshTimeout = options.sshReadyTimeoutMs ?? DEFAULT_SSH_READY_TIMEOUT_MS;
  const maxShmBytes = options.maxShmBytes ?? DEFAULT_MAX_SHM_BYTES;
  const sshHost = probeAddress(options.sshBind);
  const localEngine = options.localEngine ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  const containment: Containment = { ...DEFAULT_CONTAINMENT, ...options.containment };
  const containmentError = containmentProblem(containment);
  if (containmentError) throw new Error(containmentError);
  const ownerFilter = `${LABELS.owner}=${options.minerHotkey}`;
  const scope = [ownerFilter, ...Object.entries(options.labels ?? {}).map(([k, v]) => `${k}=${v}`)];
  const buildDir = join(options.dataDir, 'build');
  const buildOwner = buildCgroupOwner(options.minerHotkey);
  const host = dockerHost({
    host: options.host, engine, ...(options.transferDocker ? { transferDocker: options.transferDocker } : {}), dataDir: options.dataDir, baseTag,
    ...(options.baseImage ? { baseImage: options.baseImage } : {}), localEngine,
    ...(options.gpuCount !== undefined ? { gpuCount: options.gpuCount } : {}), ...(options.countGpus ? { countGpus: options.countGpus } : {}),
    ...(options.ensureBase ? { ensureBase: options.ensureBase } : {}), log,
  });
  const ioRule = options.ioRule === undefined ? DEFAULT_IO_RULE : options.ioRule;
  /** A grant's disk-IO limits, scaled by its cores; none without a rule or a local disk. */
  function ioLimitsOf(cpuset: string): IoLimits | undefined {
    const device = ioRule ? host.ioDevice() : null;
    return device ? rentalIoLimits(parseCpuset(cpuset)?.length ?? 1, device, ioRule!) : undefined;
  }
  const layers = layerHousekeeping({ engine, host, localEngine, stopSeconds, scope, log });
  let spareNetwork: Promise<string> | null = null;
  let stopped = false;

  const labelsOf = (id: string) => ({ ...options.labels, [LABELS.owner]: options.minerHotkey, [LABELS.allocation]: id });

  async function createNetwork(labels: Record<string, string>): Promise<string> {
    const bridgeId = randomBytes(4).toString('hex');
    const name = rentalNetworkName(prefix, bridgeId);
    await engine.createNetwork(rentalNetworkOptions(name, bridgeId, { ...labels, [LABELS.kind]: 'network' }));
    return name;
  }

  /** A network made ahead, so a fresh container does not wait for one. */
  async function network(labels: Record<string, string>): Promise<string> {
    const ready = spareNetwork;
    spareNetwork = null;
    const name = ready ? await ready.catch(() => null) : null;
    if (!stopped) {
      const next = createNetwork(scopeLabels());
      spareNetwork = next;
      // Only this spare is forgotten when it fails, never a newer one made since.
      next.catch(() => { if (spareNetwork === next) spareNetwork = null; });
    }
    return name ?? createNetwork(labels);
  }
  const scopeLabels = () => ({ ...options.labels, [LABELS.owner]: options.minerHotkey });

  /**
   * The renter's image, built with its RUN steps held as the rental will be: on the rental's own
   * network (the firewall's rules for rentals), its cores and memory, its pids limit (a cgroup of
   * the build's own) and a time limit; the rental daemon gives every build container the
   * project's seccomp profile (no raw sockets) and no-new-privileges.
   */
  async function buildRenterImage(spec: RentalSpec, net: string, signal?: AbortSignal): Promise<string> {
    const dockerfile = renterDockerfile(baseTag, spec.dockerfile);
    if (!dockerfile.ok) throw new RefusalError(dockerfile.error);
    const tag = allocationImageTag(prefix, spec.id);
    mkdirSync(buildDir, { recursive: true, mode: 0o700 });
    const context = mkdtempSync(join(buildDir, 'renter-'));
    const timeout = AbortSignal.timeout(options.dockerfileBuildTimeoutMs ?? DEFAULT_DOCKERFILE_BUILD_TIMEOUT_MS);
    const abort = signal ? AbortSignal.any([timeout, signal]) : timeout;
    const cgroup = await buildCgroup(spec.id);
    try {
      writeFileSync(join(context, 'Dockerfile'), dockerfile.text);
      const { grant } = spec;
      const limits = {
        networkmode: net, cpusetcpus: grant.cpuset, memory: grant.memoryBytes, memswap: grant.memoryBytes, shmsize: BUILD_SHM_BYTES,
        ...(cgroup ? { cgroupparent: cgroup.parent } : {}),
      };
      await engine.buildImage(context, ['Dockerfile'], { tag, labels: { ...labelsOf(spec.id), [LABELS.kind]: 'allocation' }, signal: abort, limits });
      return tag;
    } catch (err) {
      await engine.removeImage(tag).catch(() => undefined);
      if (err instanceof DockerUnavailableError) throw err;
      throw new RefusalError(timeout.aborted ? 'dockerfile build timed out' : `dockerfile build failed: ${(err as Error).message}`);
    } finally {
      rmSync(context, { recursive: true, force: true });
      await cgroup?.remove().catch((err: unknown) => log.warn({ rental: spec.id, err: (err as Error).message }, 'build cgroup not removed'));
    }
  }

  /** The build's own cgroup with the rental's pids limit, where this host can make one (else null, logged). */
  async function buildCgroup(rentalId: string): Promise<BuildCgroup | null> {
    if (!localEngine || host.cgroupDriver() !== 'cgroupfs') {
      log.warn({ rental: rentalId, cgroupDriver: host.cgroupDriver() ?? 'unknown', localEngine }, 'the renter\'s build runs without a pids limit: its cgroup can be made only for a local engine with the cgroupfs driver');
      return null;
    }
    try {
      return await makeBuildCgroup(buildOwner, rentalId, containment.pidsLimit);
    } catch (err) {
      log.warn({ rental: rentalId, err: (err as Error).message }, 'the renter\'s build runs without a pids limit');
      return null;
    }
  }

  const warm = warmPool({
    engine, host, prefix, baseTag, sshBind: options.sshBind, sshHost, sshTimeout, restartRetries, containment, log,
    enabled: (options.warm ?? true) && localEngine, labelsOf, network: () => network(scopeLabels()), remove: (id) => layers.removeContainer(id),
    isStopped: () => stopped, ...(options.viewMounts ? { viewMounts: options.viewMounts } : {}),
  });

  /** Sizes a started warm container for its rental and hands over the credentials, all at once. */
  async function claim(slot: WarmSlot & { container: string; network: string; hostKeys: Promise<string[]> }, spec: RentalSpec, secrets: RentalSecrets, motd: string, diskBytes: number | null): Promise<string[]> {
    const detail = await engine.inspectContainer(slot.container);
    if (detail?.state !== 'running') throw new Error(`the warm container is ${detail?.state ?? 'gone'}`);
    const resources = await host.lastResources();
    const { grant } = spec;
    const dataRoot = host.dataRoot();
    const io = ioLimitsOf(grant.cpuset);
    // The password reaches the renter only in the reply, which waits for every limit to be in force.
    const [hostKeys] = await Promise.all([
      slot.hostKeys,
      engine.updateContainer(slot.container, { CpusetCpus: grant.cpuset, Memory: grant.memoryBytes, MemorySwap: grant.memoryBytes }),
      setShmSize(detail.pid, shmSizeBytes(resources.availableMemoryBytes, grant.memoryBytes, maxShmBytes)),
      diskBytes !== null && dataRoot ? setDiskQuota(dataRoot, slot.container, diskBytes) : Promise.resolve(),
      // `docker update` cannot change device throttles: they go into the container's cgroup from the host.
      io ? setIoLimits(detail.pid, io) : Promise.resolve(),
      engine.sendToStdin(slot.container, credentialsPayload(secrets.password, secrets.keys, motd), CREDENTIALS_ACK, sshTimeout),
    ]);
    await waitForSsh(sshHost, grant.sshPort, sshTimeout);
    return hostKeys;
  }

  async function create(spec: RentalSpec, secrets: RentalSecrets, from: WarmSlot | undefined, signal?: AbortSignal): Promise<MadeRental> {
    const { grant } = spec;
    const role = containerRole(spec.role);
    const storage = host.storage() ?? (await host.resources()).storage;
    if (!storage.enforced) log.warn({ rental: spec.id }, storage.reason);
    const ownImage = spec.dockerfile.trim() !== '';
    let container: string | undefined;
    let net: string | undefined;
    let image = baseTag;
    try {
      if (ownImage) {
        // The build runs on the rental's network, made first; the rental keeps it.
        net = await network(labelsOf(spec.id));
        image = await buildRenterImage(spec, net, signal);
      }
      const diskBytes = storage.enforced ? storageSizeBytes(grant.diskBytes, ownImage ? await host.imageDiskBytes(image) : await host.baseImageBytes()) : null;
      const motd = motdText({ cpuset: grant.cpuset, memoryBytes: grant.memoryBytes, diskBytes: grant.diskBytes, diskEnforced: diskBytes !== null, gpus: spec.gpusRequested, deadline: spec.deadline });
      const claimed = from ? warm.claimed(from) : undefined;
      if (claimed) {
        try {
          const hostKeys = await claim(claimed, spec, secrets, motd, diskBytes);
          return { workload: { container: claimed.container, name: claimed.name, image, ownImage: false, network: claimed.network }, hostKeys, warm: true };
        } catch (err) {
          // A warm container that cannot be sized is never handed out: it goes, and a fresh one is made.
          if (err instanceof DockerUnavailableError) throw err;
          log.warn({ rental: spec.id, err: (err as Error).message }, 'the warm container could not be sized for this rental; making a fresh one');
          await layers.removeContainer(claimed.container).catch(() => undefined);
          await layers.removeNetwork(claimed.network);
        }
      }
      const name = rentalContainerName(prefix, role, spec.id);
      const labels = { ...labelsOf(spec.id), [LABELS.role]: role };
      net ??= await network(labelsOf(spec.id));
      const resources = await host.lastResources();
      container = await engine.createContainer(containerCreateOptions({
        name, image, labels, cpuset: grant.cpuset, memoryBytes: grant.memoryBytes,
        shmBytes: shmSizeBytes(resources.availableMemoryBytes, grant.memoryBytes, maxShmBytes), diskBytes,
        gpus: spec.gpusRequested, gpuDeviceIds: grant.gpus.length > 0 ? grant.gpus.map(String) : undefined,
        sshBind: options.sshBind, sshPort: grant.sshPort, renterPorts: grant.renterPorts, restartRetries, network: net, containment,
        viewMounts: options.viewMounts?.() ?? [], ioLimits: ioLimitsOf(grant.cpuset),
      }));
      await engine.startContainer(container);
      const id = container;
      // The host key is made before sshd starts: once SSH answers, it is there to read.
      const [, hostKeys] = await Promise.all([
        engine.sendToStdin(id, credentialsPayload(secrets.password, secrets.keys, motd), CREDENTIALS_ACK, sshTimeout),
        waitForSsh(sshHost, grant.sshPort, sshTimeout, signal).then(() => readHostKeys(engine, id)),
      ]);
      return { workload: { container: id, name, image, ownImage, network: net }, hostKeys, warm: false };
    } catch (err) {
      // Nothing of a failed rental stays behind.
      if (container) await layers.removeContainer(container).catch(() => undefined);
      else await engine.listContainers([...scope, `${LABELS.allocation}=${spec.id}`]).then((l) => Promise.all(l.map((c) => engine.removeContainer(c.id)))).catch(() => undefined);
      await layers.removeNetwork(net);
      if (image !== baseTag) await engine.removeImage(image).catch(() => undefined);
      throw err;
    }
  }

  return {
    host: options.host,
    dockerHost: host,
    warm,

    async start(keep) {
      stopped = false;
      await layers.sweep(keep, prefix);
      // Build contexts and build cgroups of renter images a killed miner left behind.
      rmSync(buildDir, { recursive: true, force: true });
      if (localEngine) await sweepBuildCgroups(buildOwner).catch(() => 0);
      void host.baseImageReady().catch(() => undefined);
    },

    async stop() {
      stopped = true;
      await warm.clear().catch(() => undefined);
      const spare = spareNetwork;
      spareNetwork = null;
      const name = spare ? await spare.catch(() => undefined) : undefined;
      await layers.removeNetwork(name);
    },

    ping: (timeoutMs) => host.ping(timeoutMs),
    facts: () => host.facts(),
    baseImage: () => host.baseImage(),
    baseImageReady: () => host.baseImageReady(),
    create,

    async destroy(workload: Workload) {
      await layers.removeContainer(workload.container);
      if (workload.ownImage) await engine.removeImage(workload.image);
      await layers.removeNetwork(workload.network);
      await layers.pruneImages();
    },

    pause: (w) => engine.pauseContainer(w.container),
    unpause: (w) => engine.unpauseContainer(w.container),
    async restart(w, sshPort) {
      await engine.restartContainer(w.container, stopSeconds);
      await waitForSsh(sshHost, sshPort, sshTimeout);
    },
    resume: (w) => engine.startContainer(w.container),
    putFiles: (w, files) => engine.putFiles(w.container, files),
    async health(w) {
      const detail: ContainerDetail | null = await engine.inspectContainer(w.container);
      return rentalHealth(detail, restartRetries);
    },

    async notify(w, notices, message) {
      await engine.putFiles(w.container, [{ path: NOTICES_PATH, content: Buffer.from(notices, 'utf8'), mode: 0o644, uid: 0, gid: 0 }]);
      // Logged-in sessions see it at once; nobody logged in: the file and the motd's pointer.
      await engine.execDetached(w.container, ['wall', `compute-miner: ${message}`]).catch(() => undefined);
    },

    watch: (onEvent) => followEngineEvents(options.docker, scope, onEvent, log),

    async list(): Promise<OwnedWorkload[]> {
      const warmIds = new Set(warm.slotIds());
      const found = await engine.listContainers([...scope, LABELS.allocation]);
      return found
        .filter((c) => !warmIds.has(c.labels[LABELS.allocation]!))
        .map((c) => ({ rentalId: c.labels[LABELS.allocation]!, container: c.id, name: c.name, state: c.state, ...(c.ports ? { renterPorts: renterPortsOf(c.ports) } : {}) }));
    },
  };
}

/** The renter's ports of a listed container: every published port but SSH's. */
function renterPortsOf(ports: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [inside, outside] of Object.entries(ports)) if (inside !== '22') out[inside] = outside;
  return out;
}
