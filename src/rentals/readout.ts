// What the rental service shows to its readers, read from the ledger and the hosts' cached views
// only: the summary /health and the status page start from, each host's state, and the hosts as
// placement sees them (Specs, metrics); and the rentals as an operator sees them, each container's
// state read within a bound, and what each host has free. No secret leaves: the holder's key
// only as a fingerprint.
import type { HostInventory } from '../fleet/placement.js';
import { parseCpuset } from '../resources/cpuset.js';
import { hostCapacity, type HostCapacity } from './capacity.js';
import { holderFingerprint } from './holder.js';
import { bounded, type HostView, type HostViews } from './hosts.js';
import type { Ledger } from './ledger.js';
import { containerRole, type Rental, type RentalRole } from './record.js';
import { hostInventory } from './room.js';
import type { BaseImageState, HostFacts } from './runtime.js';

export interface HostState {
  name: string;
  up: boolean;
  endpoint: string;
  /** Why it is down, when it is. */
  error?: string;
  /** SSH ports of its pool. */
  slots: number;
  /** Rentals the ledger holds on it. */
  rentals: number;
  /** Warm containers started on it. */
  warm: number;
  baseImage: BaseImageState;
  /** SSH ports its rentals hold outside today's pool. */
  outsidePool: number[];
  /** What it has free for the next rental. */
  capacity: HostCapacity;
}

export interface RentalsState {
  /** The first host's base image (the one the others copy). */
  baseImage: BaseImageState;
  baseImageError?: string;
  allocated: boolean;
  role?: 'ssh-container' | 'ssh-test-container';
  /** The soonest deadline, ms since the epoch. */
  deadline?: number;
  storageLimit?: string;
  /** A warm container is waiting for the next rental somewhere. */
  standby: boolean;
  engine: { endpoint: string; storageDriver?: string; diskEnforced?: boolean };
  hosts: HostState[];
}

export interface HostSnapshot {
  name: string;
  inventory: HostInventory;
  facts: HostFacts | null;
}

export function rentalsState(views: HostViews, ledger: Ledger, memoryReserveBytes: number): RentalsState {
  const all = views.all();
  const first = all[0]!;
  const base = first.host.runtime.baseImage();
  const live = ledger.all().filter((r) => r.phase === 'live');
  const soonest: Rental | undefined = [...live].sort((a, b) => a.deadline - b.deadline)[0];
  const storage = first.facts?.storage;
  return {
    baseImage: base.state,
    ...(base.error ? { baseImageError: base.error } : {}),
    allocated: live.length > 0,
    ...(soonest ? { role: containerRole(soonest.role), deadline: soonest.deadline } : {}),
    ...(storage && !storage.enforced ? { storageLimit: storage.reason } : {}),
    standby: all.some((v) => v.host.runtime.warm.ready() > 0),
    engine: { endpoint: first.host.endpoint, ...(storage ? { diskEnforced: storage.enforced } : {}) },
    hosts: all.map((v) => hostState(v, ledger, memoryReserveBytes)),
  };
}

function hostState(view: HostView, ledger: Ledger, memoryReserveBytes: number): HostState {
  const rentals = ledger.onHost(view.host.name);
  const pool = new Set(view.host.sshPorts.ports);
  const warm = view.host.runtime.warm;
  return {
    name: view.host.name, up: view.up, endpoint: view.host.endpoint, ...(view.error ? { error: view.error } : {}),
    slots: view.host.sshPorts.ports.length, rentals: rentals.length, warm: view.host.runtime.warm.ready(),
    baseImage: view.host.runtime.baseImage().state,
    outsidePool: rentals.map((r) => r.grant.sshPort).filter((p) => !pool.has(p)),
    capacity: hostCapacity({
      name: view.host.name, up: view.up, facts: view.facts, rentals, sshPool: view.host.sshPorts,
      warm: { slots: warm.slots(), ready: warm.ready() }, memoryReserveBytes,
    }),
  };
}

export function hostSnapshots(views: HostViews, ledger: Ledger, memoryReserveBytes: number): HostSnapshot[] {
  return views.all().map((v) => ({
    name: v.host.name,
    inventory: hostInventory(v.host.name, v.up, v.facts, ledger.onHost(v.host.name), memoryReserveBytes),
    facts: v.facts,
  }));
}

export interface RentalView {
  /** The host it runs on. */
  host: string;
  /** rental, or test (a validator's test rental, which gives way to a rental). */
  role: RentalRole;
  container: string;
  /**
   * Docker's state: running, paused, restarting, exited, dead; "gone" when Docker has no such
   * container; "unreachable" when its host's engine does not answer (other hosts' rentals still
   * show); "starting" or "ending" while the miner makes or removes it.
   */
  state: string;
  /** SHA256 of the holder's public key (DER), as OpenSSH prints fingerprints. */
  holder: string;
  cores: number;
  cpuset: string;
  memoryBytes: number | null;
  gpus: number;
  port: number;
  /** The SSH port is outside today's pool (kept until the rental ends). */
  outsidePool?: boolean;
  /** ISO 8601. */
  deadline: string;
  secondsLeft: number;
  /** What happened to it that its renter was told (newest last, the last five). */
  events: { at: string; kind: string; text: string }[];
  /** Disk granted, bytes. */
  diskBytes: number;
}

/** Every rental of the ledger, by host then port; a host that does not answer marks only its own. */
export function rentalViews(views: HostViews, ledger: Ledger, boundMs = 1000): () => Promise<RentalView[]> {
  return async () => {
    const rentals = [...ledger.all()].sort((a, b) => a.host.localeCompare(b.host) || a.grant.sshPort - b.grant.sshPort);
    return Promise.all(rentals.map(async (rental): Promise<RentalView> => {
      const view = views.get(rental.host);
      let state: string = rental.phase === 'live' ? 'unreachable' : rental.phase;
      if (rental.phase === 'live' && view?.up && rental.workload) {
        state = await bounded(view.host.runtime.health(rental.workload), boundMs, rental.host).then((h) => h.container, () => 'unreachable');
      }
      const pool = view ? new Set(view.host.sshPorts.ports) : new Set<number>();
      return {
        host: rental.host,
        role: rental.role,
        container: rental.workload?.name ?? '',
        state,
        holder: holderFingerprint(rental.holderKey),
        cores: parseCpuset(rental.grant.cpuset)?.length ?? 0,
        cpuset: rental.grant.cpuset,
        memoryBytes: rental.grant.memoryBytes || null,
        gpus: rental.grant.gpus.length,
        port: rental.grant.sshPort,
        ...(pool.has(rental.grant.sshPort) ? {} : { outsidePool: true }),
        deadline: new Date(rental.deadline).toISOString(),
        secondsLeft: Math.max(0, Math.round((rental.deadline - Date.now()) / 1000)),
        events: (rental.events ?? []).slice(-5).map((e) => ({ at: new Date(e.at).toISOString(), kind: e.kind, text: e.text })),
        diskBytes: rental.grant.diskBytes,
      };
    }));
  };
}
