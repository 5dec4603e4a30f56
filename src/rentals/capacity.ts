// Pure: what a host has free for the next rental, as the status page and /health show it. Counted
// as placement counts it (room.ts, fleet/placement.ts): cores, GPUs, memory limits and disk grants
// committed by the ledger's rentals against what the host has; SSH ports held by rentals or by
// warm containers against the pool; and the warm containers (standby) waiting to be claimed.
import { freeRoom } from '../fleet/placement.js';
import type { PortPool } from '../resources/ports.js';
import type { Rental } from './record.js';
import { hostInventory, portsInUse } from './room.js';
import type { HostFacts, WarmSlot } from './runtime.js';

export interface HostCapacity {
  /** Null until the host has said what it has. */
  cores: { free: number; total: number } | null;
  gpus: { free: number; total: number } | null;
  /** Rentals' memory limits committed against the host's memory less the miner's reserve. */
  memory: { freeBytes: number; committedBytes: number; totalBytes: number } | null;
  /**
   * Rentals' disk grants committed against the storage pool; `unusedBytes` is what the pool has
   * unwritten now (null when unknown). Null when the host cannot say how big its pool is.
   */
  disk: { freeBytes: number; committedBytes: number; totalBytes: number; unusedBytes: number | null } | null;
  /** Ports of today's pool held neither by a rental nor by a warm container. */
  sshPorts: { free: number; total: number };
  /** Warm containers: started (ready to be claimed) and still starting, and the SSH ports they hold. */
  standby: { ready: number; starting: number; ports: number[] };
}

export interface CapacitySource {
  name: string;
  up: boolean;
  facts: HostFacts | null;
  rentals: readonly Rental[];
  sshPool: PortPool;
  warm: { slots: readonly WarmSlot[]; ready: number };
  memoryReserveBytes: number;
}

export function hostCapacity(s: CapacitySource): HostCapacity {
  const inventory = hostInventory(s.name, s.up, s.facts, s.rentals, s.memoryReserveBytes);
  const room = freeRoom(inventory);
  const held = portsInUse(s.rentals).ssh;
  for (const slot of s.warm.slots) held.add(slot.sshPort);
  const facts = s.facts;
  const committed = (key: 'memoryBytes' | 'diskBytes') => inventory.rentals.reduce((sum, r) => sum + r[key], 0);
  return {
    cores: facts ? { free: room.cores.length, total: facts.cpuCount } : null,
    gpus: facts ? { free: room.gpus.length, total: facts.gpuCount } : null,
    memory: facts ? { freeBytes: room.memoryBytes, committedBytes: committed('memoryBytes'), totalBytes: inventory.memoryBytes } : null,
    disk: facts && facts.diskBytes !== null
      ? { freeBytes: room.diskBytes, committedBytes: committed('diskBytes'), totalBytes: facts.diskBytes, unusedBytes: facts.diskFreeBytes }
      : null,
    sshPorts: { free: s.sshPool.ports.filter((p) => !held.has(p)).length, total: s.sshPool.ports.length },
    standby: {
      ready: s.warm.ready,
      starting: Math.max(0, s.warm.slots.length - s.warm.ready),
      ports: s.warm.slots.map((slot) => slot.sshPort).sort((a, b) => a - b),
    },
  };
}
