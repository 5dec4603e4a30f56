// Specs of the miner's hosts (one machine is a fleet of one), read from them: the axon's own machine by the hardware probe,
// every other host by what its engine reports (cores, memory, Docker's version), then summed
// by fleetSpecs. Cached briefly, as the single-machine probe is.
import type { SpecsOutput } from '../../protocol/index.js';
import { cachedReader } from '../cached.js';
import type { HostFacts } from '../rentals/runtime.js';
import type { HostSnapshot } from '../rentals/readout.js';
import type { SpecsProbe } from '../specs/hardware.js';
import { fleetSpecs, hostFree, type FleetSpecsOutput } from './fleet-specs.js';

/** A host known only through its engine, in the Specs shapes. Pure. */
export function engineSpecs(facts: HostFacts | null): SpecsOutput | null {
  if (!facts) return null;
  const disk = facts.diskBytes ?? 0;
  const free = facts.diskBytes === null ? 0 : Math.min(facts.diskFreeBytes ?? 0, disk);
  return {
    cpu: { count: facts.cpuCount, frequency: 0, vendor: '', model: '' },
    gpu: { count: facts.gpuCount, capacity: 0, details: [] },
    hard_disk: { total: disk, free, used: disk - free },
    ram: { total: facts.memoryBytes, available: facts.memoryBytes, used: 0, free: facts.memoryBytes },
    docker: { available: true, version: '' },
  };
}

/**
 * What can be rented of a host, over its hardware: disk is the storage pool rentals come from
 * (its size; free: what is not committed to rentals, bounded by the bytes really free), and
 * available memory is what is not committed to rentals (less the host's reserve). Pure.
 */
export function rentableSpecs(specs: SpecsOutput, snapshot: HostSnapshot): SpecsOutput {
  const room = hostFree(snapshot.inventory);
  const pool = snapshot.facts?.diskBytes ?? null;
  const hardDisk = pool === null ? specs.hard_disk : (() => {
    const free = Math.max(0, Math.min(room.hard_disk.free, snapshot.facts?.diskFreeBytes ?? pool, pool));
    return { total: pool, free, used: pool - free };
  })();
  const available = Math.min(room.ram.available, specs.ram.total || room.ram.available);
  return { ...specs, hard_disk: hardDisk, ram: { ...specs.ram, available, free: available } };
}

export function fleetSpecsSource(fleet: { snapshot(): HostSnapshot[] }, local: { host: string; probe: SpecsProbe } | null, cacheMs = 1000): { read(): Promise<FleetSpecsOutput> } {
  const read = cachedReader(async () => {
    const snapshot = fleet.snapshot();
    const reports = await Promise.all(snapshot.map(async (s) => ({
      ...s.inventory,
      specs: s.name === local?.host && s.inventory.up ? rentableSpecs(await local.probe.read(), s) : specsOrNull(engineSpecs(s.facts), s),
    })));
    return fleetSpecs(reports);
  }, cacheMs);
  return { read };
}

function specsOrNull(specs: SpecsOutput | null, snapshot: HostSnapshot): SpecsOutput | null {
  return specs ? rentableSpecs(specs, snapshot) : null;
}
