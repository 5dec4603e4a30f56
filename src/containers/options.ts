// Pure translations from an Allocate request and the host's resources to Docker Engine
// options. No I/O here: tests read these functions directly.
import type { ContainerCreateOptions, MountSettings } from 'dockerode';
import type { AllocateRequest } from '../../protocol/index.js';
import { formatCpuset } from '../resources/cpuset.js';
import { renterPortBindings } from '../resources/ports.js';
import { RENTAL_BRIDGE_PREFIX } from '../resources/bridge.js';
import { RENTAL_CAPABILITIES } from './capabilities.js';
import { blkioHostConfig, type IoLimits } from './io-limits.js';
import { seccompSecurityOpt } from './seccomp.js';

export type DeviceRequirement = AllocateRequest['device_requirement'];

/** Whether the storage driver enforces a per-container size (`--storage-opt size=`). */
export interface StoragePolicy {
  enforced: boolean;
  /** Why not, when it is not enforced (shown in logs and /health). */
  reason?: string;
  /** Whether a container's counted disk includes the image it starts from (false: only what it writes). */
  countsImage?: boolean;
}

/** The rental daemon's label saying how its pool counts disk (see src/host/pool-quota.ts). */
export const DISK_QUOTA_LABEL = 'compute-miner.disk-quota';

/** What the host can give, probed by host.ts. */
export interface HostResources {
  cpuCount: number;
  /** MemAvailable: what a new container can use without pushing the host into swap or OOM. */
  availableMemoryBytes: number;
  /** Free bytes on the file system holding Docker's data root. */
  freeDiskBytes: number;
  gpuCount: number;
  storage: StoragePolicy;
  /** All memory of the host (Docker's MemTotal): what rentals are committed against. */
  totalMemoryBytes: number;
  /** Size of the file system holding Docker's data root; null when the engine is not on this machine. */
  totalDiskBytes: number | null;
}

/** `docker info` fields the storage policy depends on. */
export interface StorageInfo {
  Driver?: string;
  DriverStatus?: Array<[string, string]> | null;
  /** The daemon's own labels, `key=value`. */
  Labels?: string[] | null;
}

/**
 * overlay2 limits a container's size only on xfs mounted with pquota; btrfs, zfs and
 * devicemapper always do. overlay2 on extfs (this machine) does not: the size is then
 * reported as not enforced instead of being silently ignored.
 */
export function storagePolicy(info: StorageInfo): StoragePolicy {
  const driver = info.Driver ?? 'unknown';
  const backing = (info.DriverStatus ?? []).find(([k]) => k === 'Backing Filesystem')?.[1] ?? 'unknown';
  // btrfs with simple quotas counts only what the container writes; full qgroups count the image too.
  if (driver === 'btrfs') return { enforced: true, countsImage: !(info.Labels ?? []).includes(`${DISK_QUOTA_LABEL}=simple`) };
  if (['zfs', 'devicemapper', 'windowsfilter'].includes(driver)) return { enforced: true };
  if (driver === 'overlay2' && backing === 'xfs') return { enforced: true };
  return { enforced: false, reason: `storage limit not enforced: the ${driver} driver on ${backing} cannot limit a container's size` };
}

/** GPUs a request asks for: 0 for none, a count, or 'all'. */
export function requestedGpus(req: DeviceRequirement): number | 'all' {
  const count = req.gpu?.count;
  if (count === 'all') return 'all';
  return count ?? 0;
}

/** Why the host cannot take this request now, or null when it can. */
export function resourceProblem(req: DeviceRequirement, host: HostResources): string | null {
  const cpu = req.cpu?.count ?? 0;
  if (cpu > host.cpuCount) return `insufficient CPU: ${cpu} cores requested, this host has ${host.cpuCount}`;
  const ram = req.ram?.capacity ?? 0;
  if (ram > host.availableMemoryBytes) return `insufficient memory: ${ram} bytes requested, ${host.availableMemoryBytes} available`;
  const disk = req.hard_disk?.capacity ?? 0;
  if (disk > host.freeDiskBytes) return `insufficient disk: ${disk} bytes requested, ${host.freeDiskBytes} free`;
  const gpus = requestedGpus(req);
  if (gpus !== 0 && host.gpuCount === 0) return 'no GPU on this host: a GPU request cannot be served';
  if (typeof gpus === 'number' && gpus > host.gpuCount) return `insufficient GPU: ${gpus} requested, this host has ${host.gpuCount}`;
  return null;
}

/** The lowest `count` cores not in `busy`, as a Docker cpuset ("0-3,6"), or null when too few are free. */
export function pickCpuset(hostCpuCount: number, count: number, busy: readonly number[] = []): string | null {
  const taken = new Set(busy);
  const free: number[] = [];
  for (let core = 0; core < hostCpuCount && free.length < count; core++) if (!taken.has(core)) free.push(core);
  if (count < 1 || free.length < count) return null;
  return formatCpuset(free);
}

/** Default cap of /dev/shm: large enough for data loaders, small enough to never matter on its own. */
export const DEFAULT_MAX_SHM_BYTES = 64 * 1024 ** 3;

/**
 * /dev/shm size: 90% of available memory as the seed, capped by the container's memory limit
 * (tmpfs pages count against it, so more is never usable) and by `maxShmBytes`.
 */
export function shmSizeBytes(availableMemoryBytes: number, memoryLimitBytes: number, maxShmBytes = DEFAULT_MAX_SHM_BYTES): number {
  return Math.max(0, Math.min(Math.floor(availableMemoryBytes * 0.9), memoryLimitBytes, maxShmBytes));
}

/**
 * What a renter's root user is held to, beside cores, memory and disk. Every rental and the
 * standby get the same; each field is a miner option with the default below.
 */
export interface Containment {
  /** Processes and threads in the container: a fork loop stops here, not at the host's limit. */
  pidsLimit: number;
  /** Open files per process (soft = hard). */
  nofile: number;
  /** Bytes of one log file of the container's output before it rotates. */
  logMaxBytes: number;
  /** Rotated log files kept: the log never exceeds logMaxBytes × logFiles. */
  logFiles: number;
  /** OOM score of the container's processes: the kernel picks them before the miner or dockerd. */
  oomScoreAdj: number;
}

export const DEFAULT_CONTAINMENT: Readonly<Containment> = Object.freeze({
  pidsLimit: 2048,
  nofile: 16_384,
  logMaxBytes: 10 * 1024 * 1024,
  logFiles: 2,
  oomScoreAdj: 800,
});

/** Why a containment setting is unusable, or null. Checked at start, before anything runs. */
export function containmentProblem(c: Containment): string | null {
  const whole = (v: number, min: number, max: number) => Number.isSafeInteger(v) && v >= min && v <= max;
  if (!whole(c.pidsLimit, 32, 4_194_304)) return `pids limit must be a whole number from 32 to 4194304, got ${c.pidsLimit}`;
  if (!whole(c.nofile, 1024, 1_048_576)) return `nofile must be a whole number from 1024 to 1048576, got ${c.nofile}`;
  if (!whole(c.logMaxBytes, 64 * 1024, 1024 ** 3)) return `log size must be from 64 KiB to 1 GiB, got ${c.logMaxBytes} bytes`;
  if (!whole(c.logFiles, 1, 10)) return `log files must be a whole number from 1 to 10, got ${c.logFiles}`;
  if (!whole(c.oomScoreAdj, 0, 1000)) return `OOM score adjustment must be from 0 to 1000, got ${c.oomScoreAdj}`;
  return null;
}

export { RENTAL_CAPABILITIES } from './capabilities.js';

/**
 * The HostConfig part that contains a renter: capabilities, no-new-privileges, the project's
 * seccomp profile (seccomp.ts: Docker's default plus what newer Docker releases refuse), no
 * privilege, private IPC, a pids limit, file limits, a bounded log and an OOM score above the
 * host's own processes. `seccompProfile` is the profile's JSON text (the repo's own by default).
 */
export function containmentHostConfig(c: Containment, seccompProfile?: string): NonNullable<ContainerCreateOptions['HostConfig']> {
  return {
    Privileged: false,
    CapDrop: ['ALL'],
    CapAdd: [...RENTAL_CAPABILITIES],
    // No setuid binary or file capability can raise a process above what it started with.
    SecurityOpt: ['no-new-privileges:true', seccompSecurityOpt(seccompProfile)],
    IpcMode: 'private',
    PidsLimit: c.pidsLimit,
    Ulimits: [{ Name: 'nofile', Soft: c.nofile, Hard: c.nofile }],
    OomScoreAdj: c.oomScoreAdj,
    // json-file with rotation: the log's size is capped and its path is in `docker inspect`.
    LogConfig: { Type: 'json-file', Config: { 'max-size': String(c.logMaxBytes), 'max-file': String(c.logFiles) } },
    // No bind mounts and no volumes from the host: the rental's files live in its own layer.
    Binds: [],
  };
}

/** Everything containerCreateOptions needs; decided by the manager, translated here. */
export interface ContainerPlan {
  name: string;
  image: string;
  labels: Record<string, string>;
  cpuset: string;
  memoryBytes: number;
  shmBytes: number;
  /** Size limit of the writable layer; null when the driver does not enforce it. */
  diskBytes: number | null;
  gpus: number | 'all';
  /** The GPUs by index (placement's DeviceIDs); when given, they are the request's GPUs. */
  gpuDeviceIds?: readonly string[];
  sshBind: string;
  sshPort: number;
  /** The renter's own ports: container port → host port, published on sshBind beside SSH. */
  renterPorts?: Readonly<Record<string, number>>;
  /** How many times Docker restarts a container that fails on its own. */
  restartRetries: number;
  /** The rental's own bridge network (one per rental, container-to-container traffic off). */
  network: string;
  containment: Containment;
  /** Read-only views laid over the container's /proc files (LXCFS, lxcfs-mounts.ts); none: the kernel's own. */
  viewMounts?: readonly MountSettings[];
  /** Disk-IO limits on the pool's device (io-limits.ts); none when absent. */
  ioLimits?: IoLimits;
}

/** Label recording the limits a container was created with (see limitsLabel). */
export const LIMITS_LABEL = 'compute-miner.limits';

/**
 * The limits a container is created with, as one JSON label: what `docker inspect` spreads over
 * many fields (or, for /dev/shm, disk and IO set later from the host, cannot show) read in one
 * place. Labels cannot change after create: `setAt: "create"` says which moment it describes.
 */
export function limitsLabel(plan: Pick<ContainerPlan, 'cpuset' | 'memoryBytes' | 'shmBytes' | 'diskBytes' | 'ioLimits'>): string {
  const io = plan.ioLimits;
  return JSON.stringify({
    setAt: 'create',
    cpuset: plan.cpuset,
    memoryBytes: plan.memoryBytes,
    shmBytes: plan.shmBytes,
    diskBytes: plan.diskBytes,
    io: io ? { device: io.device, readBps: io.readBps, writeBps: io.writeBps, readIops: io.readIops, writeIops: io.writeIops, ...(io.weight !== undefined ? { weight: io.weight } : {}) } : null,
  });
}

export const DEFAULT_RESTART_RETRIES = 5;

/** The Docker Engine create options of an allocation's container. */
export function containerCreateOptions(plan: ContainerPlan): ContainerCreateOptions {
  const renter = renterPortBindings(plan.sshBind, plan.renterPorts ?? {});
  const hostConfig: NonNullable<ContainerCreateOptions['HostConfig']> = {
    ...containmentHostConfig(plan.containment),
    CpusetCpus: plan.cpuset,
    Memory: plan.memoryBytes,
    // Equal to Memory: no swap on top of the rented memory.
    MemorySwap: plan.memoryBytes,
    ShmSize: plan.shmBytes,
    // docker-init as PID 1 reaps zombies and forwards SIGTERM to sshd.
    Init: true,
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: plan.restartRetries },
    PortBindings: { '22/tcp': [{ HostIp: plan.sshBind, HostPort: String(plan.sshPort) }], ...renter.PortBindings },
    NetworkMode: plan.network,
  };
  if (plan.diskBytes !== null) hostConfig.StorageOpt = { size: String(plan.diskBytes) };
  // The one exception to "no host files" (Binds stays empty): LXCFS's files, bound read-only,
  // are views FUSE computes per reader from its own cgroup, not the host's data; the renter can
  // neither write them nor reach the rest of the LXCFS tree, and without CAP_SYS_ADMIN cannot unmount them.
  if (plan.viewMounts && plan.viewMounts.length > 0) hostConfig.Mounts = plan.viewMounts.map((m) => ({ ...m, ReadOnly: true }));
  if (plan.ioLimits) Object.assign(hostConfig, blkioHostConfig(plan.ioLimits));
  if (plan.gpuDeviceIds && plan.gpuDeviceIds.length > 0) {
    // By index, so rentals sharing a host never share a GPU (DeviceIDs goes without Count).
    hostConfig.DeviceRequests = [{ Driver: 'nvidia', DeviceIDs: [...plan.gpuDeviceIds], Capabilities: [['gpu']] }];
  } else if (plan.gpus !== 0) {
    hostConfig.DeviceRequests = [{ Driver: 'nvidia', Count: plan.gpus === 'all' ? -1 : plan.gpus, Capabilities: [['gpu']] }];
  }
  return {
    name: plan.name,
    Image: plan.image,
    Labels: { ...plan.labels, [LIMITS_LABEL]: limitsLabel(plan) },
    // The entry script reads the credentials once on stdin; only the miner attaches to it.
    OpenStdin: true,
    StdinOnce: true,
    ExposedPorts: { '22/tcp': {}, ...renter.ExposedPorts },
    HostConfig: hostConfig,
  };
}

export { RENTAL_BRIDGE_PREFIX };

/**
 * A rental's own network: a bridge of its own (interface `cmr` + 8 hex, within IFNAMSIZ), with
 * container-to-container traffic off, so nothing else shares its link.
 */
export function rentalNetworkOptions(name: string, bridgeId: string, labels: Record<string, string>): {
  Name: string; Driver: string; CheckDuplicate: boolean; Labels: Record<string, string>; Options: Record<string, string>;
} {
  if (!/^[0-9a-f]{8}$/.test(bridgeId)) throw new Error(`bridge id must be 8 hex digits, got ${bridgeId}`);
  return {
    Name: name,
    Driver: 'bridge',
    CheckDuplicate: true,
    Labels: labels,
    Options: {
      'com.docker.network.bridge.name': `${RENTAL_BRIDGE_PREFIX}${bridgeId}`,
      'com.docker.network.bridge.enable_icc': 'false',
    },
  };
}

/**
 * Disk size to ask the storage driver for: the request plus the image's own bytes where the
 * driver's count includes them (btrfs with full qgroups counts every byte the container's
 * subvolume references, the image's too; callers pass 0 where it does not).
 */
export function storageSizeBytes(requestedBytes: number, imageBytes: number): number {
  return requestedBytes + imageBytes;
}

// The renter's `dockerfile` translation lives in dockerfile.ts.
export { renterDockerfile, RENTER_INSTRUCTIONS } from './dockerfile.js';
