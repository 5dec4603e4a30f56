// The warm pool's decisions, per host: which ports a warm workload holds, when one is started
// (after a claim or a release, in the background), and what a new rental takes: a warm workload
// when its shape can be served warm, else free ports, else the ports of a warm workload evicted
// for it. Warm workloads hold ports only, never cores: no rental is kept out by one.
import type { Logger } from '../log.js';
import type { HostView, HostViews } from './hosts.js';
import type { Ledger } from './ledger.js';
import { choosePorts, portsInUse } from './room.js';
import type { RentalSpec, WarmSlot } from './runtime.js';

export interface RentalPorts {
  sshPort: number;
  renterPorts: Record<string, number>;
  /** Claim this warm workload. */
  from?: WarmSlot;
  /** Wait for this evicted warm workload to be gone before making the rental. */
  evicted?: Promise<void>;
}

export interface WarmKeeperOptions {
  views: HostViews;
  ledger: Ledger;
  log: Logger;
  perHost: number;
  renterPortsPerRental: number;
}

export function warmKeeper(options: WarmKeeperOptions) {
  const { views, ledger, log } = options;
  const filling = new Set<string>();

  /** Ports held on the host by its rentals and its warm workloads. */
  function held(view: HostView): { ssh: Set<number>; renter: Set<number> } {
    const inUse = portsInUse(ledger.onHost(view.host.name));
    for (const slot of view.host.runtime.warm.slots()) {
      inUse.ssh.add(slot.sshPort);
      for (const p of Object.values(slot.renterPorts)) inUse.renter.add(p);
    }
    return inUse;
  }

  /** Free ports, counting `released` (ports of rentals being ended for this one) as free. */
  function free(view: HostView, released?: { ssh: ReadonlySet<number>; renter: ReadonlySet<number> }) {
    const inUse = held(view);
    for (const p of released?.ssh ?? []) inUse.ssh.delete(p);
    for (const p of released?.renter ?? []) inUse.renter.delete(p);
    return choosePorts(view.host.sshPorts, view.host.renterPorts, options.renterPortsPerRental, inUse);
  }

  const keeper = {
    held,
    /**
     * Whether the host has a port for one more rental, counting warm workloads that could be
     * evicted, and for a production rental the ports of test rentals, which give way to it.
     */
    hasPort(view: HostView, production: boolean): boolean {
      if (free(view) !== null || view.host.runtime.warm.slots().length > 0) return true;
      return production && ledger.onHost(view.host.name).some((r) => r.role === 'test' && r.phase === 'live');
    },
    /** The ports of a new rental on this host, decided now (synchronously); null when none. */
    ports(view: HostView, shape: Pick<RentalSpec, 'role' | 'gpusRequested' | 'dockerfile'>, released?: { ssh: ReadonlySet<number>; renter: ReadonlySet<number> }): RentalPorts | null {
      const pool = view.host.runtime.warm;
      if (pool.serves(shape)) {
        const slot = pool.take();
        if (slot) return { sshPort: slot.sshPort, renterPorts: slot.renterPorts, from: slot };
      }
      const open = free(view, released);
      if (open) return open;
      const evicted = pool.evict();
      return evicted ? { ...evicted.slot, evicted: evicted.gone } : null;
    },
    /** Starts warm workloads where a host has fewer than it keeps, in the background. */
    refill(): void {
      if (options.perHost <= 0) return;
      for (const view of views.all()) {
        const name = view.host.name;
        const pool = view.host.runtime.warm;
        if (!view.up || filling.has(name) || !pool.available() || pool.slots().length >= options.perHost) continue;
        const ports = free(view);
        if (!ports) continue;
        filling.add(name);
        // A failed start is tried again by the next background look, not at once.
        void pool.fill(ports).then(
          () => { filling.delete(name); keeper.refill(); },
          (err: unknown) => { filling.delete(name); log.warn({ host: name, err: (err as Error).message }, 'warm container not started'); },
        );
      }
    },
  };
  return keeper;
}
