// Pure translations from an Allocate request and the host's resources to Docker Engine
// options. No I/O here: tests read these functions directly.
import type { ContainerCreateOptions } from 'dockerode';
import type { AllocateRequest } from '../../protocol/index.js';

export type DeviceRequirement = AllocateRequest['device_requirement'];

/** Whether the storage driver enforces a per-container size (`--storage-opt size=`). */
export interface StoragePolicy {
  enforced: boolean;
  /** Why not, when it is not enforced (shown in logs and /health). */
  reason?: string;
}

/** What the host can give, probed by host.ts. */
export interface HostResources {
  cpuCount: number;
  /** MemAvailable: what a new container can use without pushing the host into swap or OOM. */
  availableMemoryBytes: number;
  /** Free bytes on the file system holding Docker's data root. */
  freeDiskBytes: number;
  gpuCount: number;
  storage: StoragePolicy;
}

/** `docker info` fields the storage policy depends on. */
export interface StorageInfo {
  Driver?: string;
  DriverStatus?: Array<[string, string]> | null;
}

/**
 * overlay2 limits a container's size only on xfs mounted with pquota; btrfs, zfs and
 * devicemapper always do. overlay2 on extfs (this machine) does not: the size is then
 * reported as not enforced instead of being silently ignored.
 */
export function storagePolicy(info: StorageInfo): StoragePolicy {
  const driver = info.Driver ?? 'unknown';
  const backing = (info.DriverStatus ?? []).find(([k]) => k === 'Backing Filesystem')?.[1] ?? 'unknown';
  if (['btrfs', 'zfs', 'devicemapper', 'windowsfilter'].includes(driver)) return { enforced: true };
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
  const ranges: string[] = [];
  for (let i = 0; i < free.length;) {
    let j = i;
    while (j + 1 < free.length && free[j + 1] === free[j]! + 1) j++;
    ranges.push(i === j ? `${free[i]}` : `${free[i]}-${free[j]}`);
    i = j + 1;
  }
  return ranges.join(',');
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
  sshBind: string;
  sshPort: number;
  /** How many times Docker restarts a container that fails on its own. */
  restartRetries: number;
}

export const DEFAULT_RESTART_RETRIES = 5;

/** The Docker Engine create options of an allocation's container. */
export function containerCreateOptions(plan: ContainerPlan): ContainerCreateOptions {
  const hostConfig: NonNullable<ContainerCreateOptions['HostConfig']> = {
    CpusetCpus: plan.cpuset,
    Memory: plan.memoryBytes,
    // Equal to Memory: no swap on top of the rented memory.
    MemorySwap: plan.memoryBytes,
    ShmSize: plan.shmBytes,
    // docker-init as PID 1 reaps zombies and forwards SIGTERM to sshd.
    Init: true,
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: plan.restartRetries },
    PortBindings: { '22/tcp': [{ HostIp: plan.sshBind, HostPort: String(plan.sshPort) }] },
  };
  if (plan.diskBytes !== null) hostConfig.StorageOpt = { size: String(plan.diskBytes) };
  if (plan.gpus !== 0) {
    hostConfig.DeviceRequests = [{ Driver: 'nvidia', Count: plan.gpus === 'all' ? -1 : plan.gpus, Capabilities: [['gpu']] }];
  }
  return {
    name: plan.name,
    Image: plan.image,
    Labels: plan.labels,
    // The entry script reads the credentials once on stdin; only the miner attaches to it.
    OpenStdin: true,
    StdinOnce: true,
    ExposedPorts: { '22/tcp': {} },
    HostConfig: hostConfig,
  };
}

// The renter's `dockerfile` translation lives in dockerfile.ts.
export { renterDockerfile, RENTER_INSTRUCTIONS } from './dockerfile.js';
