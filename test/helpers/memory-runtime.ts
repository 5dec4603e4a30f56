// An in-memory runtime for the rental service's decisions: workloads are entries in a map, the
// engine's answers can be held back (a slow build, a frozen engine), and every call is recorded.
// Fast and deterministic; the Docker runtime's lifecycle is tested on real Docker elsewhere.
import { randomBytes } from 'node:crypto';
import type { Workload } from '../../src/rentals/record.js';
import type {
  HostFacts, MadeRental, OwnedWorkload, RentalRuntime, RentalSecrets, RentalSpec, WarmPool, WarmSlot, WorkloadEvent, WorkloadHealth,
} from '../../src/rentals/runtime.js';

export interface MemoryWorkload {
  rentalId: string;
  spec?: RentalSpec;
  state: 'running' | 'paused' | 'exited';
  password?: string;
}

export interface MemoryRuntimeOptions {
  host?: string;
  cpuCount?: number;
  memoryBytes?: number;
  diskBytes?: number;
  gpuCount?: number;
  /** Keep warm workloads (claims possible) [true]. */
  warm?: boolean;
}

export interface MemoryRuntime extends RentalRuntime {
  readonly workloads: Map<string, MemoryWorkload>;
  readonly calls: string[];
  /** While set, create() waits for it (a renter's long build). */
  gate: Promise<void> | null;
  /** While true, every call never answers (a frozen engine). */
  frozen: boolean;
  /** Adds a workload no rental holds (an orphan of a crash). */
  orphan(rentalId: string): void;
  /** The notices file of each workload, as the renter reads it. */
  readonly notices: Map<string, string>;
  /** Sends an engine event to the watcher (an OOM kill, a crash). */
  emit: (event: WorkloadEvent) => void;
}

export function memoryRuntime(options: MemoryRuntimeOptions = {}): MemoryRuntime {
  const workloads = new Map<string, MemoryWorkload>();
  const calls: string[] = [];
  const warmSlots: (WarmSlot & { rentalId: string; ready: boolean })[] = [];
  const never = new Promise<never>(() => undefined);
  const runtime: MemoryRuntime = {
    host: options.host ?? 'local',
    workloads,
    calls,
    gate: null,
    frozen: false,
    orphan(rentalId) { workloads.set(`c-${rentalId}`, { rentalId, state: 'running' }); },
    notices: new Map(),
    emit: () => undefined,

    async start() { calls.push('start'); },
    async stop() { warmSlots.splice(0); },
    async ping() {
      if (runtime.frozen) return never;
      return true;
    },
    async facts(): Promise<HostFacts> {
      if (runtime.frozen) return never;
      return {
        cpuCount: options.cpuCount ?? 2, memoryBytes: options.memoryBytes ?? 8 * 1024 ** 3,
        diskBytes: options.diskBytes ?? 64 * 1024 ** 3, diskFreeBytes: options.diskBytes ?? 64 * 1024 ** 3,
        gpuCount: options.gpuCount ?? 0, storage: { enforced: true },
      };
    },
    baseImage: () => ({ state: 'ready' }),
    baseImageReady: async () => undefined,

    async create(spec: RentalSpec, secrets: RentalSecrets, from: WarmSlot | undefined): Promise<MadeRental> {
      calls.push(`create ${spec.id}${from ? ' warm' : ''}`);
      if (runtime.frozen) return never;
      if (runtime.gate) await runtime.gate;
      const container = `c-${spec.id}`;
      workloads.set(container, { rentalId: spec.id, spec, state: 'running', password: secrets.password });
      const workload: Workload = { container, name: `ssh-container-${spec.id}`, image: 'base', ownImage: false };
      return { workload, hostKeys: [`ssh-ed25519 AAAA${spec.id}`], warm: from !== undefined };
    },
    async destroy(w) {
      calls.push(`destroy ${w.container}`);
      if (runtime.frozen) return never;
      workloads.delete(w.container);
    },
    async pause(w) { workloads.get(w.container)!.state = 'paused'; },
    async unpause(w) { workloads.get(w.container)!.state = 'running'; },
    async restart(w) { calls.push(`restart ${w.container}`); },
    async resume(w) { workloads.get(w.container)!.state = 'running'; calls.push(`resume ${w.container}`); },
    async putFiles(w) { calls.push(`put ${w.container}`); },
    async health(w): Promise<WorkloadHealth> {
      if (runtime.frozen) return never;
      const found = workloads.get(w.container);
      if (!found) return { container: 'gone', ok: false, restarts: 0, reason: 'the container no longer exists' };
      return { container: found.state, ok: found.state !== 'exited', restarts: 0, ...(found.state === 'exited' ? { reason: 'exit code 1' } : {}) };
    },
    async notify(w, notices, message) {
      calls.push(`notify ${w.container} ${message}`);
      runtime.notices.set(w.container, notices);
    },
    watch(onEvent) {
      runtime.emit = onEvent;
      return () => { runtime.emit = () => undefined; };
    },
    async list(): Promise<OwnedWorkload[]> {
      if (runtime.frozen) return never;
      return [...workloads.entries()].map(([container, w]) => ({ rentalId: w.rentalId, container, name: `ssh-container-${w.rentalId}`, state: w.state }));
    },
    warm: {
      available: () => options.warm ?? true,
      serves: (spec) => (options.warm ?? true) && spec.role === 'rental' && spec.gpusRequested === 0 && spec.dockerfile === '',
      slots: () => warmSlots.map(({ sshPort, renterPorts, rentalId }) => ({ sshPort, renterPorts, rentalId })),
      ready: () => warmSlots.filter((s) => s.ready).length,
      take() {
        const at = warmSlots.findIndex((s) => s.ready);
        if (at < 0) return undefined;
        const [slot] = warmSlots.splice(at, 1);
        return { sshPort: slot!.sshPort, renterPorts: slot!.renterPorts, rentalId: slot!.rentalId };
      },
      evict() {
        const slot = warmSlots.shift();
        if (!slot) return undefined;
        calls.push(`evict ${slot.sshPort}`);
        return { slot, gone: Promise.resolve() };
      },
      async fill(slot) {
        calls.push(`warm ${slot.sshPort}`);
        warmSlots.push({ ...slot, rentalId: randomBytes(8).toString('hex'), ready: true });
      },
    } satisfies WarmPool,
  };
  return runtime;
}
