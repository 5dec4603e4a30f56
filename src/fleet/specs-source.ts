// Specs of a fleet, read from the fleet's hosts: the axon's own machine by the hardware probe,
// every other host by what its engine reports (cores, memory, Docker's version), then summed
// by fleetSpecs. Cached briefly, as the single-machine probe is.
import type { SpecsOutput } from '../../protocol/index.js';
import { cachedReader } from '../cached.js';
import type { HostResources } from '../containers/options.js';
import type { SpecsProbe } from '../specs/hardware.js';
import type { Fleet } from './fleet.js';
import { fleetSpecs, type FleetSpecsOutput } from './fleet-specs.js';

/** A host known only through its engine, in the Specs shapes. Pure. */
export function engineSpecs(resources: HostResources | null): SpecsOutput | null {
  if (!resources) return null;
  const disk = resources.totalDiskBytes ?? 0;
  const free = resources.totalDiskBytes === null ? 0 : Math.min(resources.freeDiskBytes, disk);
  return {
    cpu: { count: resources.cpuCount, frequency: 0, vendor: '', model: '' },
    gpu: { count: resources.gpuCount, capacity: 0, details: [] },
    hard_disk: { total: disk, free, used: disk - free },
    ram: { total: resources.totalMemoryBytes, available: resources.availableMemoryBytes, used: 0, free: resources.availableMemoryBytes },
    docker: { available: true, version: '' },
  };
}

export function fleetSpecsSource(fleet: Fleet, local: { host: string; probe: SpecsProbe } | null, cacheMs = 1000): { read(): Promise<FleetSpecsOutput> } {
  const read = cachedReader(async () => {
    const snapshot = await fleet.snapshot();
    const reports = await Promise.all(snapshot.map(async (s) => ({
      ...s.inventory,
      specs: s.plan.name === local?.host && s.inventory.up ? await local.probe.read() : engineSpecs(s.resources),
    })));
    return fleetSpecs(reports);
  }, cacheMs);
  return { read };
}
