// The runtime of one host, at the level of a rental: make a rental's workload from its grant and
// secrets, act on it, say how it is, list what is ours. The rental service decides; a runtime
// only does. Docker stands behind it today (src/containers/runtime.ts); the tests' in-memory
// runtime stands behind it for the service's decisions. README.md says how Kubernetes would.
import type { ContainerFile } from '../containers/archive.js';
import type { Grant, RentalRole, Workload } from './record.js';

/** What a host can give rentals, as its engine reports it. */
export interface HostFacts {
  cpuCount: number;
  /** All memory of the host: rentals' limits are committed against it. */
  memoryBytes: number;
  /** What rentals' disks come from (the storage pool); null when the runtime cannot say. */
  diskBytes: number | null;
  /** Free bytes of that storage now; null when unknown. */
  diskFreeBytes: number | null;
  gpuCount: number;
  /** Whether a rental's disk size is enforced, and why not when it is not. */
  storage: { enforced: boolean; reason?: string };
}

export type BaseImageState = 'building' | 'ready' | 'failed';

/** Everything the runtime needs to make a rental's workload; no secret in it. */
export interface RentalSpec {
  id: string;
  role: RentalRole;
  grant: Grant;
  /** GPUs as requested ('all' or a count), beside the indices granted. */
  gpusRequested: number | 'all';
  /** The renter's extra Dockerfile commands, '' for none. */
  dockerfile: string;
  deadline: number;
}

/** What reaches the workload only through the runtime's private channel (never its definition). */
export interface RentalSecrets {
  password: string;
  keys: { user?: string; terminal?: string };
}

export interface MadeRental {
  workload: Workload;
  hostKeys: string[];
  /** Served from a warm workload. */
  warm: boolean;
}

/** How a rental's workload is now. */
export interface WorkloadHealth {
  /** running, paused, restarting, exited, dead, created, or gone. */
  container: string;
  ok: boolean;
  restarts: number;
  reason?: string;
}

/** A workload of ours the runtime found, by the rental id on its label. */
export interface OwnedWorkload {
  rentalId: string;
  container: string;
  name: string;
  state: string;
  /** The renter ports it publishes (container port → host port), when the runtime can say. */
  renterPorts?: Record<string, number>;
}

/** Something the engine saw happen to a workload. */
export interface WorkloadEvent {
  container: string;
  /** oom: a process was killed by the out-of-memory killer; died: the main process ended. */
  kind: 'oom' | 'died';
  exitCode?: string;
  at: number;
}

/** A started workload waiting for the next rental: it holds ports, no cores. */
export interface WarmSlot {
  sshPort: number;
  renterPorts: Record<string, number>;
  /** The id the rental that claims it takes (its labels already carry it); set by the pool. */
  rentalId?: string;
}

export interface WarmPool {
  /** Whether this host can keep warm workloads now (base image ready, claims possible). */
  available(): boolean;
  /** Whether a rental of this spec can be served from a warm workload. */
  serves(spec: Pick<RentalSpec, 'role' | 'gpusRequested' | 'dockerfile'>): boolean;
  /** Every warm workload, started or starting: the ports they hold. */
  slots(): WarmSlot[];
  /** How many are started. */
  ready(): number;
  /** Takes a started one out of the pool for a rental (synchronous: no two rentals get the same). */
  take(): WarmSlot | undefined;
  /** Takes any one out of the pool to free its ports (synchronous); `gone` resolves once it is removed. */
  evict(): { slot: WarmSlot; gone: Promise<void> } | undefined;
  fill(slot: WarmSlot): Promise<void>;
}

export interface RentalRuntime {
  readonly host: string;
  /** Removes what a previous run left that belongs to no rental of `keep`, and builds the base image. */
  start(keep: ReadonlySet<string>): Promise<void>;
  /** Drops warm workloads; rentals keep running. */
  stop(): Promise<void>;
  /** Whether the engine answers, within `timeoutMs` (false when it does not). */
  ping(timeoutMs: number): Promise<boolean>;
  /** What the host has; may take long on a busy engine, so the runtime caches it and re-reads it in the background. */
  facts(): Promise<HostFacts>;
  baseImage(): { state: BaseImageState; error?: string };
  /** Resolves when the base image is ready; a failed build is started again. */
  baseImageReady(): Promise<void>;
  create(spec: RentalSpec, secrets: RentalSecrets, from: WarmSlot | undefined, signal?: AbortSignal): Promise<MadeRental>;
  destroy(workload: Workload): Promise<void>;
  pause(workload: Workload): Promise<void>;
  unpause(workload: Workload): Promise<void>;
  /** Restarts it and waits until SSH answers on `sshPort`. */
  restart(workload: Workload, sshPort: number): Promise<void>;
  /** Starts again a workload found stopped (after a reboot of its host). */
  resume(workload: Workload): Promise<void>;
  putFiles(workload: Workload, files: ContainerFile[]): Promise<void>;
  health(workload: Workload): Promise<WorkloadHealth>;
  /** Rental workloads of ours (warm ones not included). */
  list(): Promise<OwnedWorkload[]>;
  /** Tells the renter: replaces the notices file and sends `message` to logged-in sessions, as wall does. */
  notify(workload: Workload, notices: string, message: string): Promise<void>;
  /** Reports what the engine says happened to our workloads until the returned function is called. */
  watch(onEvent: (event: WorkloadEvent) => void): () => void;
  readonly warm: WarmPool;
}

/** The engine did not answer within the bound. */
export class HostNotAnsweringError extends Error {
  constructor(host: string, detail: string) {
    super(`host ${host} is not answering: ${detail}`);
    this.name = 'HostNotAnsweringError';
  }
}

/** A refusal found deep in making a rental (a bad dockerfile, a failed build): status false with its words. */
export class RefusalError extends Error {}
