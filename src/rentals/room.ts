// Pure: a host's room as placement reads it, from the ledger's rentals on it and the host's facts;
// and the ports a new rental takes. SSH ports and renter ports are resources of a host like its
// cores: a port is free when no rental of the ledger and no warm workload holds it.
import type { HostInventory, PlacedRental } from '../fleet/placement.js';
import { takePorts, renterPortMap, type PortPool } from '../resources/ports.js';
import type { Rental } from './record.js';
import type { HostFacts } from './runtime.js';

/** A ledger rental as placement counts it; a rental being ended no longer holds anything. */
export function placedRental(rental: Rental): PlacedRental {
  const { cpuset, gpus, memoryBytes, diskBytes } = rental.grant;
  return { id: rental.id, cpuset, gpus, memoryBytes, diskBytes, testing: rental.role === 'test' };
}

/** The host as placement sees it. Memory is committed against all of it less the host's reserve. */
export function hostInventory(name: string, up: boolean, facts: HostFacts | null, rentals: readonly Rental[], memoryReserveBytes: number): HostInventory {
  return {
    name,
    up,
    cpuCount: facts?.cpuCount ?? 0,
    gpus: Array.from({ length: facts?.gpuCount ?? 0 }, (_, index) => ({ index, name: 'gpu' })),
    memoryBytes: Math.max(0, (facts?.memoryBytes ?? 0) - memoryReserveBytes),
    diskBytes: facts?.diskBytes ?? Number.MAX_SAFE_INTEGER,
    rentals: rentals.filter((r) => r.phase !== 'ending').map(placedRental),
  };
}

/**
 * Disk for a request that names none: the default, or less on a small pool: the cores' share of
 * the largest host (a 4 GiB pool on 2 cores gives 2 GiB per core), so a request for "any disk" is
 * never refused for a size it did not ask for.
 */
export function defaultDiskBytes(hosts: ReadonlyArray<HostFacts | null>, cores: number, defaultBytes: number): number {
  const shares = hosts.flatMap((f) => (f?.diskBytes && f.cpuCount > 0 ? [Math.floor((f.diskBytes * Math.max(1, cores)) / f.cpuCount)] : []));
  return shares.length ? Math.min(defaultBytes, Math.max(...shares)) : defaultBytes;
}

/** SSH and renter ports held on a host by its rentals (every phase: a port is free only once its container is gone). */
export function portsInUse(rentals: readonly Rental[]): { ssh: Set<number>; renter: Set<number> } {
  const ssh = new Set<number>();
  const renter = new Set<number>();
  for (const r of rentals) {
    ssh.add(r.grant.sshPort);
    for (const p of Object.values(r.grant.renterPorts)) renter.add(p);
  }
  return { ssh, renter };
}

export interface PortChoice {
  sshPort: number;
  renterPorts: Record<string, number>;
}

/**
 * The lowest free SSH port of the pool and `perRental` renter ports, none held by a rental or a
 * warm workload; null when the pool has none (or too few renter ports).
 */
export function choosePorts(sshPool: PortPool, renterPool: PortPool | null, perRental: number, held: { ssh: ReadonlySet<number>; renter: ReadonlySet<number> }): PortChoice | null {
  const ssh = takePorts(sshPool, held.ssh, 1);
  if (!ssh) return null;
  if (perRental === 0 || !renterPool) return { sshPort: ssh[0]!, renterPorts: {} };
  const renter = takePorts(renterPool, held.renter, perRental);
  if (!renter) return null;
  return { sshPort: ssh[0]!, renterPorts: renterPortMap(renter) };
}

/** SSH ports the ledger holds outside today's pool (a restart with a smaller pool): they stay theirs until they end. */
export function portsOutsidePool(rentals: readonly Rental[], sshPool: PortPool): number[] {
  const pool = new Set(sshPool.ports);
  return rentals.map((r) => r.grant.sshPort).filter((p) => !pool.has(p)).sort((a, b) => a - b);
}
