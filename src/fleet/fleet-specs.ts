// Pure: the Specs reply of a fleet (PROTOCOL.md "Version 1 additions"): the top-level fields are
// the totals of the hosts that are up, `free` is the best single host's free room (a rental lives
// on one machine), and `hosts` has one entry per machine with the same shapes.
import type { SpecsOutput } from '../../protocol/index.js';
import { roomCounts, type HostInventory, type RoomCounts } from './placement.js';

/** The largest rental that can be placed now, in the Specs shapes. */
export interface FreeSpecs {
  cpu: { count: number };
  gpu: { count: number };
  ram: { available: number };
  hard_disk: { free: number };
}

export interface HostSpecsEntry {
  name: string;
  cpu: SpecsOutput['cpu'];
  gpu: SpecsOutput['gpu'];
  ram: SpecsOutput['ram'];
  hard_disk: SpecsOutput['hard_disk'];
  free: FreeSpecs;
  up: boolean;
}

export type FleetSpecsOutput = SpecsOutput & { free: FreeSpecs; hosts: HostSpecsEntry[] };

/** A host for Specs: what placement knows, and the last hardware probe of it (null: never probed). */
export interface HostReport extends HostInventory {
  specs: SpecsOutput | null;
}

const NO_FREE: FreeSpecs = { cpu: { count: 0 }, gpu: { count: 0 }, ram: { available: 0 }, hard_disk: { free: 0 } };

function emptySpecs(): SpecsOutput {
  return {
    cpu: { count: 0, frequency: 0, vendor: '', model: '' },
    gpu: { count: 0, capacity: 0, details: [] },
    hard_disk: { total: 0, free: 0, used: 0 },
    ram: { total: 0, available: 0, used: 0, free: 0 },
    docker: { available: false, version: '' },
  };
}

/**
 * A host's free room as a production rental sees it: test rentals give way to production, so
 * their room counts as free. A host that is down has none.
 */
export function hostFree(host: HostInventory): FreeSpecs {
  if (!host.up) return NO_FREE;
  return toFree(roomCounts(host, (r) => r.testing));
}

function toFree(room: RoomCounts): FreeSpecs {
  return { cpu: { count: room.cores }, gpu: { count: room.gpus }, ram: { available: room.memoryBytes }, hard_disk: { free: room.diskBytes } };
}

/** Best single host: the most free GPUs, then cores, memory, disk (the order placement weighs them). */
function larger(a: FreeSpecs, b: FreeSpecs): boolean {
  const ka = [a.gpu.count, a.cpu.count, a.ram.available, a.hard_disk.free];
  const kb = [b.gpu.count, b.cpu.count, b.ram.available, b.hard_disk.free];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! > kb[i]!;
  return false;
}

/** Specs of the whole fleet; hosts are listed by name so the reply is stable. */
export function fleetSpecs(hosts: readonly HostReport[]): FleetSpecsOutput {
  const sorted = [...hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const total = emptySpecs();
  let free = NO_FREE;
  let first = true;
  const entries: HostSpecsEntry[] = [];
  for (const host of sorted) {
    const specs = host.specs ?? emptySpecs();
    const hostFreeRoom = hostFree(host);
    entries.push({ name: host.name, cpu: specs.cpu, gpu: specs.gpu, ram: specs.ram, hard_disk: specs.hard_disk, free: hostFreeRoom, up: host.up });
    // A host that is down rents nothing: its last known hardware is listed, not counted.
    if (!host.up) continue;
    if (larger(hostFreeRoom, free)) free = hostFreeRoom;
    if (first) {
      // One CPU description for the fleet: the first host's (by name), as a single machine reports its own.
      total.cpu = { ...specs.cpu, count: 0 };
      first = false;
    }
    total.cpu.count += specs.cpu.count;
    total.gpu.count += specs.gpu.count;
    total.gpu.capacity += specs.gpu.capacity;
    total.gpu.details.push(...specs.gpu.details);
    for (const key of ['total', 'free', 'used'] as const) total.hard_disk[key] += specs.hard_disk[key];
    for (const key of ['total', 'available', 'used', 'free'] as const) total.ram[key] += specs.ram[key];
    if (specs.docker.available && !total.docker.available) total.docker = { ...specs.docker };
  }
  return { ...total, free, hosts: entries };
}
