// The set of rentals behind one axon: every host's rental slots (one container manager per SSH
// port), placement across them, and the holder's requests routed to the slot that holds its key.
// Each slot keeps today's one-rental lifecycle (record, expiry, reconcile, crash safety); the
// fleet only decides where a rental goes and reserves it there before anything is awaited.
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.js';
import { DockerUnavailableError } from '../containers/docker.js';
import { UnavailableError } from '../containers/errors.js';
import {
  baseImageNotReady, holderDigest, NO_ALLOCATION, NOT_HOLDER,
  type AllocationRequest, type AllocationResult, type ContainerManager, type HeldRental, type ManagerHealth, type ManagerState, type Outcome,
} from '../containers/manager.js';
import type { HostResources } from '../containers/options.js';
import type { DeviceRequirement } from '../containers/options.js';
import { serializer } from '../serial.js';
import { checkFits, place, type HostInventory, type PlacedRental } from './placement.js';
import { placementRequest } from './request.js';

export interface FleetHostPlan {
  name: string;
  /** What renters SSH to; absent for the axon's own machine when no hosts file names one. */
  address?: string;
  /** The engine's endpoint, for /health. */
  endpoint: string;
  /** One manager per SSH port of the host's pool, the first of them building the base image. */
  slots: ContainerManager[];
}

export interface FleetOptions {
  hosts: FleetHostPlan[];
  log: Logger;
  /** Memory kept back from rentals on every host, for the host itself [1 GiB]. */
  memoryReserveBytes?: number;
  /** Disk a rental gets when its request names none (the managers' own default). */
  defaultDiskBytes: number;
  /** How often a host that is down is asked again [2 s]. */
  recheckMs?: number;
}

/** One host as /health and the status page show it. */
export interface FleetHostState {
  name: string;
  up: boolean;
  endpoint: string;
  /** Why it is down, when it is. */
  error?: string;
  slots: number;
  rentals: number;
  /** The base image on this host: a host still getting it takes no rental yet. */
  baseImage: string;
}

export interface FleetState extends ManagerState {
  hosts: FleetHostState[];
}

export interface HostSnapshot {
  plan: FleetHostPlan;
  inventory: HostInventory;
  resources: HostResources | null;
}

export interface Fleet extends ContainerManager {
  state(): FleetState;
  /** Every host as placement sees it now (down hosts with their last known figures). */
  snapshot(): Promise<HostSnapshot[]>;
}

export const DEFAULT_MEMORY_RESERVE_BYTES = 1024 ** 3;

interface HostRuntime {
  plan: FleetHostPlan;
  up: boolean;
  error?: string;
  last: HostResources | null;
  /** Slots reserved by an allocation that has not finished yet: what they will hold, and for whom. */
  pending: Map<ContainerManager, { rental: PlacedRental; holder: Buffer }>;
}

export function createFleet(options: FleetOptions): Fleet {
  const log = options.log.child({ component: 'fleet' });
  const reserve = options.memoryReserveBytes ?? DEFAULT_MEMORY_RESERVE_BYTES;
  const hosts: HostRuntime[] = options.hosts.map((plan) => ({ plan, up: true, last: null, pending: new Map() }));
  if (hosts.length === 0 || hosts.some((h) => h.plan.slots.length === 0)) throw new Error('a fleet needs hosts, each with at least one SSH port');
  const first = hosts[0]!.plan.slots[0]!;
  const decide = serializer();
  let recheck: NodeJS.Timeout | undefined;

  function allSlots(): { host: HostRuntime; slot: ContainerManager }[] {
    return hosts.flatMap((host) => host.plan.slots.map((slot) => ({ host, slot })));
  }

  /** Reads a host's resources; a host that stops answering is marked down, one that answers again reconciled. */
  async function look(host: HostRuntime): Promise<HostResources | null> {
    try {
      const resources = await host.plan.slots[0]!.inventory();
      host.last = resources;
      if (!host.up) {
        host.up = true;
        delete host.error;
        log.info({ host: host.plan.name }, 'host is up again: reconciling its rentals');
        await Promise.all(host.plan.slots.map((s) => s.reconcileAgain().catch((err: unknown) => log.warn({ host: host.plan.name, err: (err as Error).message }, 'reconcile failed'))));
      }
      return resources;
    } catch (err) {
      if (host.up) log.warn({ host: host.plan.name, err: (err as Error).message }, 'host is down: its rentals wait, the others keep renting');
      host.up = false;
      host.error = (err as Error).message;
      return null;
    }
  }

  function inventoryOf(host: HostRuntime, resources: HostResources | null): HostInventory {
    const rentals: PlacedRental[] = [];
    for (const slot of host.plan.slots) {
      const held = slot.held();
      if (held) rentals.push(held);
      const pending = host.pending.get(slot);
      if (pending) rentals.push(pending.rental);
    }
    const r = resources ?? host.last;
    return {
      name: host.plan.name,
      up: resources !== null,
      cpuCount: r?.cpuCount ?? 0,
      gpus: Array.from({ length: r?.gpuCount ?? 0 }, (_, index) => ({ index, name: 'gpu' })),
      memoryBytes: Math.max(0, (r?.totalMemoryBytes ?? 0) - reserve),
      diskBytes: r?.totalDiskBytes ?? Number.MAX_SAFE_INTEGER,
      rentals,
    };
  }

  /** Hosts as placement sees them; those with no free SSH port left out (counted in `full`). */
  async function placeable(): Promise<{ list: { host: HostRuntime; inventory: HostInventory }[]; full: number }> {
    // A host already down is not waited for here: the recheck timer brings it back.
    const looked = await Promise.all(hosts.map(async (host) => ({ host, resources: host.up ? await look(host) : null })));
    let full = 0;
    const list: { host: HostRuntime; inventory: HostInventory }[] = [];
    for (const { host, resources } of looked) {
      if (freeSlot(host) === undefined) { full += 1; continue; }
      list.push({ host, inventory: inventoryOf(host, resources) });
    }
    return { list, full };
  }

  function freeSlot(host: HostRuntime): ContainerManager | undefined {
    return host.plan.slots.find((slot) => slot.held() === null && !host.pending.has(slot) && slot.state().baseImage === 'ready');
  }

  /** The slot that holds the key of `digest` (holderDigest: the request's key is parsed once). */
  function holderSlot(digest: Buffer): { host: HostRuntime; slot: ContainerManager } | undefined {
    return allSlots().find(({ slot }) => slot.holds(digest));
  }

  /** A rental being made for the key of `digest`, not yet recorded by its slot. */
  function pendingFor(digest: Buffer): boolean {
    return hosts.some((h) => [...h.pending.values()].some((p) => timingSafeEqual(p.holder, digest)));
  }

  function requestOf(device: DeviceRequirement) {
    const req = placementRequest(device);
    return { ...req, diskBytes: req.diskBytes || options.defaultDiskBytes };
  }

  function shortOfPorts(reason: string, full: number): string {
    return full > 0 ? `${reason} (${full} host${full === 1 ? ' has' : 's have'} no free SSH port, or no base image yet)` : reason;
  }

  /** A holder's request on the slot that holds its key; a host that is down answers for itself. */
  async function onHolder(pem: string, act: (slot: ContainerManager) => Promise<Outcome>): Promise<Outcome> {
    const found = holderSlot(holderDigest(pem));
    if (!found) return { status: false, error: allSlots().some(({ slot }) => slot.held() !== null) ? NOT_HOLDER : NO_ALLOCATION };
    // The reply's port is the holder's own rental's, not the first slot's.
    const port = found.slot.sshPort;
    try {
      return { ...(await act(found.slot)), port };
    } catch (err) {
      if (err instanceof DockerUnavailableError || (err instanceof UnavailableError && !found.host.up)) {
        return { status: false, error: `host ${found.host.plan.name} is down: ${(err as Error).message}`, port };
      }
      throw err;
    }
  }

  async function allocate(request: AllocationRequest): Promise<AllocationResult> {
    const holder = holderDigest(request.publicKeyPem);
    const decided = await decide(async () => {
      if (holderSlot(holder) || pendingFor(holder)) {
        return { refused: 'already allocated: this public_key holds a rental on this miner (release it first)' } as const;
      }
      const { list, full } = await placeable();
      const req = requestOf(request.device);
      const placement = place(list.map((l) => l.inventory), req);
      if (!placement.ok) return { refused: shortOfPorts(placement.reason, full) } as const;
      const host = list.find((l) => l.host.plan.name === placement.host)!.host;
      for (const id of placement.endTesting) {
        const holder = host.plan.slots.find((s) => s.held()?.id === id);
        if (holder) await holder.end(id, 'a production rental needs its room');
      }
      const slot = freeSlot(host)!;
      host.pending.set(slot, {
        rental: { id: `pending-${slot.sshPort}`, cpuset: placement.cpuset, gpus: placement.gpus, memoryBytes: req.memoryBytes, diskBytes: req.diskBytes, testing: req.testing },
        holder,
      });
      return { host, slot, placement } as const;
    });
    if ('refused' in decided) return { status: false, error: decided.refused! };
    const { host, slot, placement } = decided;
    try {
      const result = await slot.allocate({ ...request, placement: { cpuset: placement.cpuset, gpus: placement.gpus } });
      if (result.status) log.info({ host: host.plan.name, port: result.port, cpuset: placement.cpuset }, 'rental placed');
      return result.status && host.plan.address !== undefined ? { ...result, host: host.plan.address } : result;
    } finally {
      host.pending.delete(slot);
    }
  }

  const fleet: Fleet = {
    sshPort: first.sshPort,

    async start() {
      // The first host's first slot builds the base image; the others wait for it (their ensureBase).
      await Promise.all(allSlots().map(({ slot }) => slot.start()));
      await Promise.all(hosts.map((h) => look(h)));
      let lastRetry = 0;
      recheck = setInterval(() => {
        for (const h of hosts) if (!h.up) void look(h);
        // A host whose base image failed (a copy cut off, an engine that was down) tries again once a minute.
        if (Date.now() - lastRetry < 60_000) return;
        lastRetry = Date.now();
        for (const h of hosts) {
          if (h.up && h.plan.slots[0]!.state().baseImage === 'failed') for (const s of h.plan.slots) void s.baseImageReady().catch(() => undefined);
        }
      }, options.recheckMs ?? 2000);
      recheck.unref();
    },

    async stop() {
      if (recheck) clearInterval(recheck);
      await Promise.all(allSlots().map(({ slot }) => slot.stop()));
    },

    state() {
      const states = allSlots().map(({ slot }) => slot.state());
      const base = first.state();
      const held = states.filter((s) => s.allocated);
      const soonest = held.filter((s) => s.deadline !== undefined).sort((a, b) => a.deadline! - b.deadline!)[0];
      return {
        ...base,
        allocated: held.length > 0,
        ...(soonest ? { role: soonest.role, deadline: soonest.deadline } : {}),
        standby: states.some((s) => s.standby),
        hosts: hosts.map((h) => ({
          name: h.plan.name, up: h.up, endpoint: h.plan.endpoint, ...(h.error ? { error: h.error } : {}),
          slots: h.plan.slots.length, rentals: h.plan.slots.filter((s) => s.held() !== null).length, baseImage: h.plan.slots[0]!.state().baseImage,
        })),
      };
    },

    async health(): Promise<ManagerHealth> {
      const state = fleet.state();
      const rentals = await Promise.all(allSlots().filter(({ slot }) => slot.held() !== null).map(async ({ host, slot }) => {
        const health = host.up ? await slot.health().catch(() => undefined) : undefined;
        return { host: host.plan.name, port: slot.sshPort, ...(health?.rental ?? { container: 'unknown', ok: false, restarts: 0, reason: `host ${host.plan.name} is down` }) };
      }));
      return { ...state, ...(rentals[0] ? { rental: rentals[0] } : {}), rentals };
    },

    baseImageReady: () => first.baseImageReady(),

    async snapshot() {
      return Promise.all(hosts.map(async (host) => {
        const resources = await look(host);
        return { plan: host.plan, inventory: inventoryOf(host, resources), resources };
      }));
    },

    checkFree: (device) => decide(async () => {
      const base = first.state();
      if (base.baseImage !== 'ready') {
        // As a single manager answers: a failed build is started again.
        if (base.baseImage === 'failed') void first.baseImageReady().catch(() => undefined);
        throw new UnavailableError(baseImageNotReady(base.baseImageError));
      }
      const { list, full } = await placeable();
      const answer = checkFits(list.map((l) => l.inventory), requestOf(device));
      return answer.fits ? { status: true } : { status: false, error: shortOfPorts(answer.reason ?? 'does not fit', full) };
    }),

    checkHolder: (pem) => onHolder(pem, (slot) => slot.checkHolder(pem)),
    allocate,
    deallocate: (pem) => onHolder(pem, (slot) => slot.deallocate(pem)),
    exchangeKey: (pem, keyType, sshKey) => onHolder(pem, (slot) => slot.exchangeKey(pem, keyType, sshKey)),
    restart: (pem) => onHolder(pem, (slot) => slot.restart(pem)),
    pause: (pem) => onHolder(pem, (slot) => slot.pause(pem)),
    unpause: (pem) => onHolder(pem, (slot) => slot.unpause(pem)),

    holds: (digest) => holderSlot(digest) !== undefined,
    held: () => null,
    inventory: () => first.inventory(),
    reconcileAgain: async () => { await Promise.all(allSlots().map(({ slot }) => slot.reconcileAgain())); },
    async end(id, why) {
      await Promise.all(allSlots().map(({ slot }) => slot.end(id, why)));
    },
  };
  return fleet;
}

export type { HeldRental };
