// Specs of a fleet, read from the fleet's hosts: the axon's own machine by the hardware probe,
// every other host by what its engine reports (cores, memory, Docker's version), then summed
// by fleetSpecs. Cached briefly, as the single-machine probe is.
import type { SpecsOutput } from '../../protocol/index.js';
import { cachedReader } from '../cached.js';
import type { HostFacts } from '../rentals/runtime.js';
import type { HostSnapshot } from '../rentals/readout.js';
import type { SpecsProbe } from '../specs/hardware.js';
import { fleetSpecs, type FleetSpecsOutput } from './fleet-specs.js';

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

export function fleetSpecsSource(fleet: { snapshot(): HostSnapshot[] }, local: { host: string; probe: SpecsProbe } | null, cacheMs = 1000): { read(): Promise<FleetSpecsOutput> } {
  const read = cachedReader(async () => {
    const snapshot = fleet.snapshot();
    const reports = await Promise.all(snapshot.map(async (s) => ({
      ...s.inventory,
      specs: s.name === local?.host && s.inventory.up ? await local.probe.read() : engineSpecs(s.facts),
    })));
    return fleetSpecs(reports);
  }, cacheMs);
  return { read };
}
