// The container manager: one rented container at a time, driven by Allocate. Owns the base
// image, the allocation record, the expiry timer and every container it labels as its own.
// All operations run one at a time (serializer), so concurrent requests never interleave.
import { createHash, createPublicKey, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type Dockerode from 'dockerode';
import type { AllocateCredentials } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { CREDENTIALS_ACK, ensureBaseImage } from './base-image.js';
import { connectDocker, dockerodeEngine, dockerStatus, DockerUnavailableError, type DockerEngine, type DockerInfo } from './docker.js';
import { UnavailableError } from './errors.js';
import { countGpus, probeHost } from './host.js';
import { rentalHealth, type RentalHealth } from './health.js';
import { readHostKeys } from './host-keys.js';
import { motdText } from './motd.js';
import { allocationImageTag, containerName, DEFAULT_BASE_TAG, LABELS, rentalNetworkName, ROLES, standbyName, type ContainerRole } from './names.js';
import {
  containerCreateOptions, containmentProblem, DEFAULT_CONTAINMENT, DEFAULT_MAX_SHM_BYTES, DEFAULT_RESTART_RETRIES, pickCpuset,
  rentalNetworkOptions, renterDockerfile, requestedGpus, resourceProblem, shmSizeBytes, storagePolicy, storageSizeBytes,
  type Containment, type DeviceRequirement, type HostResources, type StoragePolicy,
} from './options.js';
import { setDiskQuota, setShmSize } from './resize.js';
import { imageReferencedBytes } from './layer-bytes.js';
import { emptyContainerLayers } from './layer-empty.js';
import { authorizedKeysFile, credentialsPayload, exchangeKey, generatePassword, type KeyType } from './secrets.js';
import { createExpiryScheduler } from './scheduler.js';
import { serializer } from '../serial.js';
import { probeAddress, waitForSsh } from './ssh-ready.js';
import { allocationStore, type AllocationRecord } from './store.js';

export interface ContainerManagerOptions {
  /** A dockerode client; default: the daemon on `dockerSocket`. */
  docker?: Dockerode;
  /**
   * A client of the same engine for the base image build, whose import uploads for minutes: a
   * client with a connect timeout would cut it (docker-modem's timer runs until the answer begins). Absent: `docker`.
   */
  transferDocker?: Dockerode;
  /** Docker's unix socket [/var/run/docker.sock]. */
  dockerSocket?: string;
  /** Where the allocation record, the allocation_key file and the build lock live. */
  dataDir: string;
  /** SS58 of this miner: the owner label of everything it creates. */
  minerHotkey: string;
  /** Host port the container's SSH is published on (the reply's `port`). */
  sshPort: number;
  /** Host address the SSH port is published on (127.0.0.1 for loopback only). */
  sshBind: string;
  /** Prefix of container and per-allocation image names [''], so tests never collide with a real miner. */
  namePrefix?: string;
  /** Extra labels on every container and per-allocation image (tests mark their run with one). */
  labels?: Record<string, string>;
  baseImage?: { from?: string; tag?: string; pullTimeoutMs?: number };
  log: Logger;
  /** Seconds between SIGTERM and SIGKILL when a container is stopped [2]. */
  stopTimeoutSeconds?: number;
  /** How long SSH may take to answer after start or restart [30 s]. */
  sshReadyTimeoutMs?: number;
  /** Longest build of a renter's `dockerfile` commands [10 min]. */
  dockerfileBuildTimeoutMs?: number;
  /** Cap of /dev/shm [64 GiB]. */
  maxShmBytes?: number;
  /** Docker restarts a failing container this many times [5]. */
  restartRetries?: number;
  /** Root password length [24]. */
  passwordLength?: number;
  /** `version` in the credentials JSON [1]. */
  credentialsVersion?: number;
  /** GPUs on this host; default: counted with nvidia-smi at start. */
  gpuCount?: number;
  /**
   * How a remote engine's GPUs are counted (through its API, with the base image): asked once
   * the base image is ready on it. Absent: a remote engine has none.
   */
  countGpus?: () => Promise<number>;
  /**
   * Keep one started standby container while idle, so a rental is served without waiting for
   * Docker to start a container [true]. Rentals with GPUs, an enforced disk size or renter
   * Dockerfile commands, and test containers, always get a container of their own.
   */
  standby?: boolean;
  /** Limits beyond cores, memory and disk that every rental and the standby get [DEFAULT_CONTAINMENT]. */
  containment?: Partial<Containment>;
  /** Disk of a rental whose request names none [10 GiB]: no rental has unlimited disk. */
  defaultDiskBytes?: number;
  /**
   * The engine runs on this machine and the miner is root [true when root]: a claimed standby's
   * disk size and /dev/shm are then set from the host. Without it, every rental gets a fresh
   * container (the standby is not kept).
   */
  localEngine?: boolean;
  /** The endpoint /health names for this engine (unix:///…). */
  endpoint?: string;
  /**
   * Whether the host may rent now (its storage pool and firewall); when it says no,
   * allocations are refused with 503 and its reason. Absent: not checked here.
   */
  hostReady?: () => { applied: boolean; error?: string };
  /** The renter's own ports of this rental slot: container port → host port on sshBind. */
  renterPorts?: Readonly<Record<string, number>>;
  /**
   * Makes the base image ready instead of building it here (another slot on the same engine
   * builds it; a remote engine gets a copy). Absent: this manager builds it.
   */
  ensureBase?: () => Promise<void>;
}

export type BaseImageState = 'building' | 'ready' | 'failed';

export interface ManagerState {
  baseImage: BaseImageState;
  baseImageError?: string;
  allocated: boolean;
  role?: ContainerRole;
  /** Milliseconds since the epoch. */
  deadline?: number;
  /** Set when the storage driver cannot enforce `hard_disk.capacity`. */
  storageLimit?: string;
  /** A started standby container is waiting for the next rental. */
  standby: boolean;
  /** The engine rentals run on, its storage driver and whether it enforces disk sizes. */
  engine: { endpoint: string; storageDriver?: string; diskEnforced?: boolean };
}

/** /health's view of the allocation: the state, plus the container as Docker sees it now. */
export interface ManagerHealth extends ManagerState {
  rental?: RentalHealth;
  /** Every rental of a fleet, with its host and SSH port. */
  rentals?: (RentalHealth & { host: string; port: number })[];
}

/** A domain answer: status false with a reason the renter can read. */
export interface Outcome {
  status: boolean;
  error?: string;
  /** The SSH port of the holder's rental, when it is not the manager's own (a fleet's slot). */
  port?: number;
}

export type AllocationResult =
  | { status: true; credentials: AllocateCredentials; hostKeys: string[]; port: number; ports: Record<string, number>; host?: string }
  | { status: false; error: string };

/** Cores and GPUs decided by the fleet's placement; the manager then checks no resources itself. */
export interface GrantedPlace {
  cpuset: string;
  /** GPU indices (Docker DeviceIDs). */
  gpus: readonly number[];
}

/** The rental of a manager, as placement counts it. */
export interface HeldRental {
  id: string;
  cpuset: string;
  gpus: number[];
  memoryBytes: number;
  diskBytes: number;
  testing: boolean;
}

export interface AllocationRequest {
  /** Rental length in days (fractions allowed). */
  timelineDays: number;
  device: DeviceRequirement;
  /** The renter's RSA public key (PEM): the holder of the allocation. */
  publicKeyPem: string;
  /** The renter's OpenSSH public key line, '' for none. */
  sshKey: string;
  /** Extra Dockerfile commands, '' for none. */
  dockerfile: string;
  /** Aborts a long dockerfile build when the requester is gone. */
  signal?: AbortSignal;
  /** Where the fleet placed it; absent: this manager picks its cores. */
  placement?: GrantedPlace;
}

export interface ContainerManager {
  /** Reconciles Docker with the record, arms the expiry timer and starts the base image build. */
  start(): Promise<void>;
  /** Stops the timer; containers keep running (the record brings them back on the next start). */
  stop(): Promise<void>;
  state(): ManagerState;
  /** state() plus the rented container's health, read from Docker now. */
  health(): Promise<ManagerHealth>;
  /** Resolves when the base image is ready, rejects when its build failed. */
  baseImageReady(): Promise<void>;
  checkFree(device: DeviceRequirement): Promise<Outcome>;
  checkHolder(publicKeyPem: string): Promise<Outcome>;
  allocate(request: AllocationRequest): Promise<AllocationResult>;
  deallocate(publicKeyPem: string): Promise<Outcome>;
  exchangeKey(publicKeyPem: string, keyType: KeyType, sshKey: string): Promise<Outcome>;
  restart(publicKeyPem: string): Promise<Outcome>;
  pause(publicKeyPem: string): Promise<Outcome>;
  unpause(publicKeyPem: string): Promise<Outcome>;
  readonly sshPort: number;
  /** Whether the key of `digest` (holderDigest) holds this manager's rental (from the record on disk until reconciled). */
  holds(digest: Buffer): boolean;
  /** The rental as placement counts it, or null (read like holds). */
  held(): HeldRental | null;
  /** The host's resources as Docker reports them now. */
  inventory(): Promise<HostResources>;
  /** Reconciles again (the engine came back); serialized with every operation. */
  reconcileAgain(): Promise<void>;
  /** Ends the rental `id` when it is still this manager's (a test rental giving way). */
  end(id: string, why: string): Promise<void>;
}

const DAY_MS = 86_400_000;
export const DEFAULT_STOP_TIMEOUT_SECONDS = 2;
export const DEFAULT_SSH_READY_TIMEOUT_MS = 30_000;
export const DEFAULT_DOCKERFILE_BUILD_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_RENTAL_DISK_BYTES = 10 * 1024 ** 3;
/** The standby's /dev/shm and disk headroom until it is claimed and sized for its rental. */
const STANDBY_SHM_BYTES = 64 * 1024 ** 2;
const STANDBY_DISK_HEADROOM_BYTES = 1024 ** 3;

/** Digest of a key's DER form: the same key in differently wrapped PEM text compares equal. */
export function holderDigest(pem: string): Buffer {
  let material: Buffer;
  try {
    material = createPublicKey({ key: pem, format: 'pem' }).export({ type: 'spki', format: 'der' });
  } catch {
    material = Buffer.from(pem, 'utf8');
  }
  return createHash('sha256').update(material).digest();
}

/** The digest of a record's holder (base64 of the PEM), parsed once per record. */
const recordDigests = new WeakMap<Pick<AllocationRecord, 'holderKey'>, Buffer>();
export function recordHolderDigest(record: Pick<AllocationRecord, 'holderKey'>): Buffer {
  let digest = recordDigests.get(record);
  if (!digest) {
    digest = holderDigest(Buffer.from(record.holderKey, 'base64').toString('utf8'));
    recordDigests.set(record, digest);
  }
  return digest;
}

/** Constant-time comparison of the request's key with the stored holder (base64 of the PEM). */
export function isHolder(record: Pick<AllocationRecord, 'holderKey'>, publicKeyPem: string): boolean {
  return timingSafeEqual(recordHolderDigest(record), holderDigest(publicKeyPem));
}

export const NOT_HOLDER = 'permission denied: public_key is not the holder of this allocation';
export const NO_ALLOCATION = 'no allocation on this miner';

/** The 503 while the base image is not ready; `error` is the last build's failure. */
export function baseImageNotReady(error?: string): string {
  return error ? `base image not ready yet: the last build failed (${error}); rebuilding` : 'base image not ready yet: building';
}

function dockerMessage(err: unknown): string {
  const json = (err as { json?: { message?: string } })?.json;
  return (json?.message ?? (err as Error)?.message ?? String(err)).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '');
}

export function createContainerManager(options: ContainerManagerOptions): ContainerManager {
  const log = options.log.child({ component: 'containers' });
  const engine: DockerEngine = dockerodeEngine(options.docker ?? connectDocker(options.dockerSocket));
  const store = allocationStore(options.dataDir); // makes the data dir (0700)
  const buildDir = join(options.dataDir, 'build');
  const expiry = createExpiryScheduler();
  const serialize = serializer();
  const prefix = options.namePrefix ?? '';
  const baseTag = options.baseImage?.tag ?? DEFAULT_BASE_TAG;
  const stopSeconds = options.stopTimeoutSeconds ?? DEFAULT_STOP_TIMEOUT_SECONDS;
  const maxShmBytes = options.maxShmBytes ?? DEFAULT_MAX_SHM_BYTES;
  const restartRetries = options.restartRetries ?? DEFAULT_RESTART_RETRIES;
  const sshTimeout = options.sshReadyTimeoutMs ?? DEFAULT_SSH_READY_TIMEOUT_MS;
  const sshHost = probeAddress(options.sshBind);
  const ownerFilter = `${LABELS.owner}=${options.minerHotkey}`;
  // Sweeps touch only objects with this manager's own labels: slots sharing an engine keep theirs.
  const scope = [ownerFilter, ...Object.entries(options.labels ?? {}).map(([k, v]) => `${k}=${v}`)];
  const standbyEnabled = options.standby ?? true;
  const standbyContainerName = standbyName(prefix);
  const ourNames = new Set([...ROLES.map((role) => containerName(prefix, role)), standbyContainerName]);
  const containment: Containment = { ...DEFAULT_CONTAINMENT, ...options.containment };
  const containmentError = containmentProblem(containment);
  if (containmentError) throw new Error(containmentError);
  const defaultDiskBytes = options.defaultDiskBytes ?? DEFAULT_RENTAL_DISK_BYTES;
  const localEngine = options.localEngine ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  const endpoint = options.endpoint ?? `unix://${options.dockerSocket ?? '/var/run/docker.sock'}`;
  const renterPorts = { ...options.renterPorts };
  let storageDriver: string | undefined;
  let dataRoot: string | undefined;

  let record: AllocationRecord | null = null;
  let reconciled = false;
  let gpuCount = options.gpuCount;
  let storage: StoragePolicy | undefined;
  let base: { state: BaseImageState; error?: string; done: Promise<void> } | undefined;
  let stopped = false;
  /** A rental network made ahead for a container that is not the standby. */
  let spareNetwork: string | null = null;
  /** The started standby container, when there is one, and its SSH host keys once sshd is up. */
  let standby: { id: string; network: string; hostKeys: Promise<string[]> } | null = null;
  let baseBytes: number | undefined;

  /** What a container of `image` references from the start, which its disk quota must include. */
  async function imageDiskBytes(image: string): Promise<number> {
    if (storageDriver === 'btrfs' && dataRoot && localEngine) {
      try {
        return await imageReferencedBytes(dataRoot, await engine.imageLayers(image));
      } catch (err) {
        if (err instanceof DockerUnavailableError) throw err;
        log.warn({ image, err: (err as Error).message }, 'the image\'s size on the pool is unknown; its byte count is used');
      }
    }
    return engine.imageSize(image);
  }

  /** The base image's disk bytes, measured once. */
  async function baseImageBytes(): Promise<number> {
    baseBytes ??= await imageDiskBytes(baseTag);
    return baseBytes;
  }

  // --- dependencies -------------------------------------------------------------------------

  /** The storage driver does not change under a running daemon: decided (and warned of) once. */
  function storageOf(info: DockerInfo): StoragePolicy {
    storageDriver = info.Driver;
    dataRoot = info.DockerRootDir;
    if (!storage) {
      storage = storagePolicy(info);
      if (!storage.enforced) log.warn(storage.reason);
    }
    return storage;
  }

  async function dockerInfo(): Promise<DockerInfo> {
    if (!(await engine.ping())) throw new DockerUnavailableError();
    const info = await engine.info();
    storageOf(info);
    return info;
  }

  async function hostResources(known?: DockerInfo): Promise<HostResources> {
    const info = known ?? await dockerInfo();
    // nvidia-smi counts this machine's GPUs; a remote engine's are counted through its API once
    // the base image is there to count them with (none until then).
    if (gpuCount === undefined) {
      if (localEngine) gpuCount = await countGpus();
      else if (!options.countGpus) gpuCount = 0;
      else if (base?.state === 'ready') gpuCount = await options.countGpus();
    }
    return probeHost(info, gpuCount ?? 0, storageOf(info), localEngine);
  }

  /** Starts (or restarts after a failure) the base image build in the background. */
  function buildBaseImage(): Promise<void> {
    if (base && base.state !== 'failed') return base.done;
    const made = options.ensureBase ? options.ensureBase() : ensureBaseImage(options.transferDocker ? dockerodeEngine(options.transferDocker) : engine, { ...options.baseImage, dataDir: options.dataDir, log });
    const done = made.then(
      () => { base = { state: 'ready', done }; baseBytes = undefined; scheduleStandby(); },
      (err: unknown) => {
        const message = (err as Error).message;
        log.error({ err: message }, 'base image build failed');
        base = { state: 'failed', error: message, done };
        throw err;
      },
    );
    done.catch(() => undefined);
    base = { state: 'building', done };
    return done;
  }

  /** Docker answers, the record matches Docker, and (for allocations) the base image exists. */
  async function ready(needBaseImage: boolean): Promise<DockerInfo> {
    const info = await dockerInfo();
    if (!reconciled) await reconcile();
    if (!needBaseImage) return info;
    if (base?.state === 'ready') return info;
    if (!base || base.state === 'failed') {
      const previous = base?.error;
      void buildBaseImage().catch(() => undefined);
      throw new UnavailableError(baseImageNotReady(previous));
    }
    throw new UnavailableError(baseImageNotReady());
  }

  // --- teardown and reconcile ---------------------------------------------------------------

  /** SIGTERM to PID 1 (docker-init forwards it to sshd), bounded wait, forced removal. */
  async function removeContainer(id: string): Promise<void> {
    const current = await engine.inspectContainer(id);
    if (!current) return;
    // A paused container cannot take SIGTERM; forced removal kills it directly.
    if (current.state === 'running' || current.state === 'restarting') await engine.stopContainer(id, stopSeconds);
    if (storageDriver === 'btrfs' && dataRoot && localEngine && current.state !== 'paused') {
      await emptyContainerLayers(dataRoot, current.id).catch((err: unknown) => log.warn({ id: id.slice(0, 12), err: (err as Error).message }, 'the container\'s layers were not emptied first; Docker removes them'));
    }
    await engine.removeContainer(id);
  }

  /** A rental's own network, labelled as ours (and with the allocation, when there is one). */
  async function createNetwork(labels: Record<string, string>): Promise<string> {
    const networkId = randomBytes(4).toString('hex');
    const name = rentalNetworkName(prefix, networkId);
    await engine.createNetwork(rentalNetworkOptions(name, networkId, { ...labels, [LABELS.kind]: 'network' }));
    return name;
  }

  async function removeNetwork(name: string | undefined): Promise<void> {
    if (name) await engine.removeNetwork(name).catch((err: unknown) => log.warn({ network: name, err: dockerMessage(err) }, 'network not removed'));
  }

  async function pruneImages(): Promise<void> {
    await engine.pruneDanglingImages(scope).catch((err: unknown) => log.warn({ err: dockerMessage(err) }, 'image prune failed'));
  }

  /** Removes the allocation's container and image and clears the record. */
  async function endAllocation(current: AllocationRecord, why: string): Promise<void> {
    expiry.cancel();
    await removeContainer(current.containerId);
    if (current.ownImage) await engine.removeImage(current.image);
    store.clear();
    record = null;
    // After the record: a crash here leaves only a network, which reconcile removes.
    await removeNetwork(current.network);
    log.info({ allocation: current.id, role: current.role, why }, 'allocation ended');
  }

  /** Ends the allocation, prunes what it left, and brings the standby back. */
  async function teardown(current: AllocationRecord, why: string): Promise<void> {
    await endAllocation(current, why);
    await pruneImages();
    scheduleStandby();
  }

  // --- standby ------------------------------------------------------------------------------

  /** Starts the standby when idle. Runs serialized, like every operation. */
  async function replenishStandby(): Promise<void> {
    if (!standbyEnabled || !localEngine || stopped || record || standby || base?.state !== 'ready') return;
    const host = await hostResources();
    const labels = { ...options.labels, [LABELS.owner]: options.minerHotkey };
    const network = await createNetwork(labels);
    let id: string | undefined;
    try {
      id = await engine.createContainer(containerCreateOptions({
        name: standbyContainerName, image: baseTag,
        // Destined to be the production container: test containers never use the standby.
        labels: { ...labels, [LABELS.role]: 'ssh-container' },
        cpuset: pickCpuset(host.cpuCount, host.cpuCount) ?? '0',
        // Until claimed nobody can log in; claiming sets memory, /dev/shm and disk for the rental.
        memoryBytes: 0,
        shmBytes: STANDBY_SHM_BYTES,
        diskBytes: host.storage.enforced ? storageSizeBytes(STANDBY_DISK_HEADROOM_BYTES, await baseImageBytes()) : null,
        gpus: 0, sshBind: options.sshBind, sshPort: options.sshPort, renterPorts, restartRetries, network, containment,
      }));
      await engine.startContainer(id);
    } catch (err) {
      if (id) await engine.removeContainer(id).catch(() => undefined);
      await removeNetwork(network);
      throw err;
    }
    // Read once sshd answers, off the allocation's path: a claim finds them ready.
    const startedId = id;
    const hostKeys = waitForSsh(sshHost, options.sshPort, sshTimeout).then(() => readHostKeys(engine, startedId));
    hostKeys.catch(() => undefined);
    standby = { id, network, hostKeys };
    log.debug({ id: id.slice(0, 12) }, 'standby container started');
  }

  /** Makes the network of the next container that is not the standby ahead of its request. */
  async function replenishNetwork(): Promise<void> {
    if (stopped || spareNetwork || !reconciled) return;
    spareNetwork = await createNetwork({ ...options.labels, [LABELS.owner]: options.minerHotkey });
  }

  function takeSpareNetwork(): string | undefined {
    const name = spareNetwork ?? undefined;
    spareNetwork = null;
    return name;
  }

  function scheduleStandby(): void {
    if (stopped) return;
    if (standbyEnabled) void serialize(replenishStandby).catch((err: unknown) => log.warn({ err: dockerMessage(err) }, 'standby container not started'));
    void serialize(replenishNetwork).catch((err: unknown) => log.warn({ err: dockerMessage(err) }, 'spare network not made'));
  }

  async function dropStandby(): Promise<void> {
    if (!standby) return;
    const { id, network } = standby;
    standby = null;
    await removeContainer(id);
    await removeNetwork(network);
  }

  function arm(current: AllocationRecord): void {
    expiry.schedule(current.deadline, () => {
      void serialize(async () => {
        if (record?.id !== current.id) return;
        await teardown(current, 'deadline reached');
      }).catch((err: unknown) => {
        log.error({ err: dockerMessage(err), allocation: current.id }, 'expiry could not remove the container; retrying in 30 s');
        setTimeout(() => { if (record?.id === current.id) arm({ ...current, deadline: 0 }); }, 30_000).unref();
      });
    });
  }

  /** Brings Docker and the record into agreement. Touches only containers labelled as ours. */
  async function reconcile(): Promise<void> {
    let stored: AllocationRecord | null;
    try {
      stored = store.read();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'unreadable allocation record: clearing it; its container will be removed');
      store.clear();
      stored = null;
    }
    const containers = (await engine.listContainers([ownerFilter])).filter((c) => ourNames.has(c.name));
    const own = stored ? containers.find((c) => c.id === stored!.containerId) : undefined;
    standby = null;
    for (const c of containers) {
      if (c === own) continue;
      if (c.name === standbyContainerName) { await removeContainer(c.id); continue; }
      log.warn({ container: c.name, id: c.id.slice(0, 12) }, 'removing a container of this miner that has no allocation record');
      await removeContainer(c.id); // its per-allocation image goes with the sweep below
    }
    record = null;
    if (stored && !own) {
      log.warn({ allocation: stored.id }, 'the allocation record names a container that no longer exists: clearing it');
      store.clear();
    } else if (stored && own) {
      record = stored;
      if (stored.deadline <= Date.now()) {
        await endAllocation(stored, 'deadline passed while the miner was down'); // pruned and replenished below
      } else {
        if (own.state === 'exited' || own.state === 'created') {
          log.info({ allocation: stored.id }, 'starting the allocation container again');
          await engine.startContainer(own.id);
        }
        arm(stored);
        log.info({ allocation: stored.id, role: stored.role, deadline: new Date(stored.deadline).toISOString() }, 'allocation restored');
      }
    }
    // Per-allocation images whose allocation is gone: a container removed above, a record
    // cleared, or a crash during a renter's build.
    const images = await engine.listImages([...scope, `${LABELS.kind}=allocation`]);
    for (const tag of images) {
      if (record?.ownImage && record.image === tag) continue;
      log.warn({ image: tag }, 'removing a per-allocation image without an allocation');
      await engine.removeImage(tag);
    }
    // Networks of containers that are gone (a crash between creating a network and its container).
    spareNetwork = null;
    const keep = new Set([record?.network].filter((n): n is string => n !== undefined));
    for (const n of await engine.listNetworks([...scope, `${LABELS.kind}=network`])) {
      if (keep.has(n.name)) continue;
      await removeNetwork(n.name);
    }
    await pruneImages();
    // Build contexts of renter images a killed miner left behind.
    rmSync(buildDir, { recursive: true, force: true });
    reconciled = true;
    if (!record) scheduleStandby();
  }

  /** Refuses (503) while the host cannot isolate rentals. */
  function isolated(): void {
    const now = options.hostReady?.();
    if (now && !now.applied) throw new UnavailableError(`this host cannot rent now: ${now.error ?? 'not ready'}`);
  }

  async function healthOf(current: AllocationRecord): Promise<RentalHealth> {
    return rentalHealth(await engine.inspectContainer(current.containerId), restartRetries);
  }

  // --- holder checks ------------------------------------------------------------------------

  /** The record when `pem` holds it, else the refusal. */
  function holderRecord(pem: string): { ok: true; record: AllocationRecord } | { ok: false; outcome: Outcome } {
    if (!record) return { ok: false, outcome: { status: false, error: NO_ALLOCATION } };
    if (!isHolder(record, pem)) return { ok: false, outcome: { status: false, error: NOT_HOLDER } };
    return { ok: true, record };
  }

  // --- allocation ---------------------------------------------------------------------------

  async function buildRenterImage(allocationId: string, commands: string, labels: Record<string, string>, signal?: AbortSignal): Promise<string> {
    const dockerfile = renterDockerfile(baseTag, commands);
    if (!dockerfile.ok) throw new RefusalError(dockerfile.error);
    const tag = allocationImageTag(prefix, allocationId);
    mkdirSync(buildDir, { recursive: true, mode: 0o700 });
    const context = mkdtempSync(join(buildDir, 'renter-'));
    const timeout = AbortSignal.timeout(options.dockerfileBuildTimeoutMs ?? DEFAULT_DOCKERFILE_BUILD_TIMEOUT_MS);
    const abort = signal ? AbortSignal.any([timeout, signal]) : timeout;
    try {
      writeFileSync(join(context, 'Dockerfile'), dockerfile.text);
      await engine.buildImage(context, ['Dockerfile'], { tag, labels: { ...labels, [LABELS.kind]: 'allocation' }, signal: abort });
      return tag;
    } catch (err) {
      await engine.removeImage(tag).catch(() => undefined);
      if (err instanceof DockerUnavailableError) throw err;
      throw new RefusalError(timeout.aborted ? 'dockerfile build timed out' : `dockerfile build failed: ${dockerMessage(err)}`);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  }

  async function allocateNow(request: AllocationRequest): Promise<AllocationResult> {
    const started = performance.now();
    const phases: Record<string, number> = {};
    const mark = (phase: string) => { phases[phase] = Math.round(performance.now() - started); };
    const info = await ready(true);
    mark('ready');
    isolated();
    if (record && record.role === 'ssh-container') return { status: false, error: 'already allocated: this miner is rented out' };
    const host = await hostResources(info);
    mark('host');
    // A placed request was checked by the fleet against every rental on the host.
    const problem = request.placement ? null : resourceProblem(request.device, host);
    if (problem) return { status: false, error: problem };
    // A new allocation first ends a validator's test container (the seed's kill_container()).
    if (record) await teardown(record, 'replaced by a new allocation');

    const role: ContainerRole = request.device.testing ? 'ssh-test-container' : 'ssh-container';
    const id = randomBytes(8).toString('hex');
    const allocationLabels = { ...options.labels, [LABELS.owner]: options.minerHotkey, [LABELS.allocation]: id };
    const labels = { ...allocationLabels, [LABELS.role]: role };
    const cpuset = request.placement?.cpuset ?? pickCpuset(host.cpuCount, request.device.cpu?.count ?? 1);
    const gpuIds = request.placement ? [...request.placement.gpus] : undefined;
    if (!cpuset) return { status: false, error: 'insufficient CPU: not enough free cores' };
    const memoryBytes = request.device.ram?.capacity ?? 0;
    const gpus = requestedGpus(request.device);
    const diskRequest = request.device.hard_disk?.capacity || defaultDiskBytes;
    const shmBytes = shmSizeBytes(host.availableMemoryBytes, memoryBytes, maxShmBytes);
    if (!host.storage.enforced) log.warn({ allocation: id }, host.storage.reason);

    let image = baseTag;
    let ownImage = false;
    try {
      if (request.dockerfile.trim() !== '') {
        image = await buildRenterImage(id, request.dockerfile, allocationLabels, request.signal);
        ownImage = true;
      }
    } catch (err) {
      if (err instanceof RefusalError) return { status: false, error: err.message };
      throw err;
    }

    const name = containerName(prefix, role);
    const standbyDetail = standby !== null && role === 'ssh-container' && !ownImage && gpus === 0
      ? await engine.inspectContainer(standby.id) : null;
    const claimStandby = standbyDetail?.state === 'running';
    const diskBytes = host.storage.enforced ? storageSizeBytes(diskRequest, ownImage ? await imageDiskBytes(image) : await baseImageBytes()) : null;
    // The standby holds the SSH port: any other container needs it gone first.
    if (!claimStandby) await dropStandby();
    const password = generatePassword(options.passwordLength);
    const keys = request.sshKey ? { user: request.sshKey } : {};
    const createdAt = Date.now();
    const deadline = createdAt + request.timelineDays * DAY_MS;
    const motd = motdText({ cpuset, memoryBytes, diskBytes: diskRequest, diskEnforced: diskBytes !== null, gpus, deadline });
    let containerId: string | undefined;
    let network: string | undefined;
    let hostKeys: string[] = [];
    try {
      let claimed = false;
      if (claimStandby) {
        const spare = standby!;
        standby = null;
        try {
          // All at once: the password reaches the renter only in the reply, which waits for every
          // limit to be in force, so nobody can log in to a rental that is not yet sized.
          [hostKeys] = await Promise.all([
            spare.hostKeys,
            engine.updateContainer(spare.id, { CpusetCpus: cpuset, Memory: memoryBytes, MemorySwap: memoryBytes }),
            setShmSize(standbyDetail!.pid, shmBytes),
            diskBytes !== null && dataRoot ? setDiskQuota(dataRoot, spare.id, diskBytes) : Promise.resolve(),
            engine.renameContainer(spare.id, name),
            engine.sendToStdin(spare.id, credentialsPayload(password, keys, motd), CREDENTIALS_ACK, sshTimeout),
          ]);
          claimed = true;
          containerId = spare.id;
          network = spare.network;
          mark('claimed');
        } catch (err) {
          // A standby that cannot be sized is never handed out: it goes, and a fresh container is made.
          if (err instanceof DockerUnavailableError) throw err;
          log.warn({ allocation: id, err: dockerMessage(err) }, 'the standby could not be sized for this rental; making a fresh container');
          await removeContainer(spare.id).catch(() => undefined);
          await removeNetwork(spare.network);
        }
      }
      if (claimed) {
        await waitForSsh(sshHost, options.sshPort, sshTimeout, request.signal);
      } else {
        network = takeSpareNetwork() ?? await createNetwork(allocationLabels);
        mark('network');
        containerId = await engine.createContainer(containerCreateOptions({
          name, image, labels, cpuset, memoryBytes, shmBytes, diskBytes,
          gpus, gpuDeviceIds: gpuIds?.map(String), sshBind: options.sshBind, sshPort: options.sshPort, renterPorts,
          restartRetries, network, containment,
        }));
        mark('created');
        await engine.startContainer(containerId);
        mark('started');
        // The host key is made before sshd starts: once SSH answers, it is there to read.
        [, hostKeys] = await Promise.all([
          engine.sendToStdin(containerId, credentialsPayload(password, keys, motd), CREDENTIALS_ACK, sshTimeout),
          waitForSsh(sshHost, options.sshPort, sshTimeout, request.signal).then(() => readHostKeys(engine, containerId!)),
        ]);
      }
      mark('ssh');
      const created: AllocationRecord = {
        version: 1, id, holderKey: Buffer.from(request.publicKeyPem, 'utf8').toString('base64'), role,
        containerId: containerId!, containerName: name, image, ownImage, port: options.sshPort, cpuset,
        createdAt, deadline, keys, network,
        memoryBytes, diskBytes: diskRequest, ...(gpuIds ? { gpuIds } : {}),
      };
      store.write(created);
      mark('stored');
      record = created;
      arm(created);
      log.info({ allocation: id, role, cpuset, memoryBytes, deadline: new Date(created.deadline).toISOString(), image, standby: claimed, ms: phases }, 'allocated');
      return {
        status: true, credentials: { username: 'root', password, port: options.sshPort, version: options.credentialsVersion ?? 1 },
        hostKeys, port: options.sshPort, ports: renterPorts,
      };
    } catch (err) {
      // Nothing of a failed allocation stays behind.
      if (containerId) await removeContainer(containerId).catch(() => undefined);
      else await engine.listContainers([ownerFilter, `${LABELS.allocation}=${id}`]).then((l) => Promise.all(l.map((c) => engine.removeContainer(c.id)))).catch(() => undefined);
      await removeNetwork(network);
      if (ownImage) await engine.removeImage(image).catch(() => undefined);
      if (err instanceof DockerUnavailableError) throw err;
      const message = dockerMessage(err);
      log.error({ allocation: id, err: message }, 'allocation failed');
      scheduleStandby();
      if (dockerStatus(err) === 409) return { status: false, error: `container name conflict: ${message}` };
      return { status: false, error: `allocation failed: ${message}` };
    }
  }

  // --- actions ------------------------------------------------------------------------------

  async function onHolderContainer(pem: string, act: (current: AllocationRecord) => Promise<Outcome>): Promise<Outcome> {
    await ready(false);
    const held = holderRecord(pem);
    if (!held.ok) return held.outcome;
    try {
      return await act(held.record);
    } catch (err) {
      if (err instanceof DockerUnavailableError) throw err;
      return { status: false, error: dockerMessage(err) };
    }
  }

  /** A holder's action on its container, serialized with every other operation. */
  function holderAction(pem: string, act: (current: AllocationRecord) => Promise<Outcome>): Promise<Outcome> {
    return serialize(() => onHolderContainer(pem, act));
  }

  /** Pause or unpause: allowed only from the state `from`, so a repeated request says why it did nothing. */
  function changeState(pem: string, from: 'running' | 'paused', verb: 'pause' | 'unpause', change: (id: string) => Promise<void>): Promise<Outcome> {
    return holderAction(pem, async (current) => {
      const state = await stateOf(current);
      if (state !== from) return { status: false, error: `cannot ${verb}: the container is ${state}` };
      await change(current.containerId);
      log.info({ allocation: current.id }, `container ${verb}d`);
      return { status: true };
    });
  }

  async function stateOf(current: AllocationRecord): Promise<string> {
    return (await engine.inspectContainer(current.containerId))?.state ?? 'gone';
  }

  /**
   * The record in memory once reconciled; before that (Docker down at start), the one on disk,
   * read once: nothing writes it until reconcile has run.
   */
  let onDisk: { record: AllocationRecord | null } | undefined;
  function knownRecord(): AllocationRecord | null {
    if (reconciled) return record;
    if (!onDisk) {
      try {
        onDisk = { record: store.read() };
      } catch {
        onDisk = { record: null };
      }
    }
    return onDisk.record;
  }

  const manager: ContainerManager = {
    sshPort: options.sshPort,

    holds(digest) {
      const current = knownRecord();
      return current !== null && timingSafeEqual(recordHolderDigest(current), digest);
    },

    held() {
      const current = knownRecord();
      if (!current) return null;
      return {
        id: current.id, cpuset: current.cpuset, gpus: current.gpuIds ?? [], memoryBytes: current.memoryBytes ?? 0,
        diskBytes: current.diskBytes ?? 0, testing: current.role === 'ssh-test-container',
      };
    },

    inventory: () => hostResources(),

    reconcileAgain: () => serialize(async () => {
      await dockerInfo();
      await reconcile();
    }),

    end: (id, why) => serialize(async () => {
      if (record?.id === id) await teardown(record, why);
    }),

    async start() {
      stopped = false;
      try {
        await dockerInfo();
        await serialize(reconcile);
      } catch (err) {
        // Reconciled lazily, before the first request, once Docker answers.
        log.error({ err: dockerMessage(err) }, 'cannot reconcile allocations now: Docker does not answer');
      }
      void buildBaseImage().catch(() => undefined);
    },

    async stop() {
      stopped = true;
      expiry.cancel();
      // The standby is only useful to a running miner; the allocation container stays.
      await serialize(async () => { await dropStandby(); await removeNetwork(takeSpareNetwork()); }).catch(() => undefined);
    },

    state() {
      return {
        baseImage: base?.state ?? 'building',
        ...(base?.error ? { baseImageError: base.error } : {}),
        allocated: record !== null,
        ...(record ? { role: record.role, deadline: record.deadline } : {}),
        ...(storage && !storage.enforced ? { storageLimit: storage.reason } : {}),
        standby: standby !== null,
        engine: { endpoint, ...(storageDriver ? { storageDriver } : {}), ...(storage ? { diskEnforced: storage.enforced } : {}) },
      };
    },

    async health() {
      const now = manager.state();
      const current = record;
      if (!current) return now;
      try {
        return { ...now, rental: await healthOf(current) };
      } catch (err) {
        return { ...now, rental: { container: 'unknown', ok: false, restarts: 0, reason: dockerMessage(err) } };
      }
    },

    baseImageReady() {
      return buildBaseImage();
    },

    checkFree: (device) => serialize(async () => {
      const info = await ready(true);
      isolated();
      if (record?.role === 'ssh-container') return { status: false, error: 'already allocated: this miner is rented out' };
      const problem = resourceProblem(device, await hostResources(info));
      return problem ? { status: false, error: problem } : { status: true };
    }),

    checkHolder: (pem) => serialize(async () => {
      await ready(false);
      const held = holderRecord(pem);
      if (!held.ok) return held.outcome;
      const health = await healthOf(held.record);
      return health.ok ? { status: true } : { status: false, error: `the container is not running: ${health.reason}` };
    }),

    allocate: (request) => serialize(() => {
      if (stopped) throw new UnavailableError('the miner is stopping');
      return allocateNow(request);
    }),

    deallocate: (pem) => holderAction(pem, async (current) => {
      await teardown(current, 'de-allocated by the holder');
      return { status: true };
    }),

    exchangeKey: (pem, keyType, sshKey) => holderAction(pem, async (current) => {
      const state = await stateOf(current);
      if (state !== 'running') return { status: false, error: `cannot exchange keys: the container is ${state}` };
      const keys = exchangeKey(current.keys, keyType, sshKey);
      await engine.putFiles(current.containerId, [authorizedKeysFile(keys)]);
      const updated = { ...current, keys };
      store.write(updated);
      record = updated;
      log.info({ allocation: current.id, keyType }, 'SSH key exchanged');
      return { status: true };
    }),

    restart: (pem) => holderAction(pem, async (current) => {
      const state = await stateOf(current);
      if (state === 'paused') return { status: false, error: 'cannot restart: the container is paused (unpause it first)' };
      await engine.restartContainer(current.containerId, stopSeconds);
      await waitForSsh(sshHost, current.port, sshTimeout);
      log.info({ allocation: current.id }, 'container restarted');
      return { status: true };
    }),

    pause: (pem) => changeState(pem, 'running', 'pause', (id) => engine.pauseContainer(id)),
    unpause: (pem) => changeState(pem, 'paused', 'unpause', (id) => engine.unpauseContainer(id)),
  };
  return manager;
}

/** A refusal found deep in an operation (a bad dockerfile); becomes status false. */
class RefusalError extends Error {}
