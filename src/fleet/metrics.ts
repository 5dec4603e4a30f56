// Each host in /metrics (one machine is a fleet of one): whether its engine answers and how many
// rentals it holds, read from the ledger at scrape time.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HostSnapshot, RentalsState } from '../rentals/readout.js';
import { hostFree } from './fleet-specs.js';

export function registerFleetMetrics(registry: Registry, fleet: { state(): RentalsState; snapshot(): HostSnapshot[]; notices?: { counts(): Record<string, number> } }): void {
  new Gauge({
    name: 'miner_host_up',
    help: 'Whether the host\'s Docker engine answers (1) or not (0)',
    labelNames: ['host'],
    registers: [registry],
    collect() {
      for (const h of fleet.state().hosts) this.set({ host: h.name }, h.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'miner_host_rentals',
    help: 'Rentals held on the host',
    labelNames: ['host'],
    registers: [registry],
    collect() {
      for (const h of fleet.state().hosts) this.set({ host: h.name }, h.rentals);
    },
  });
  // What a production rental could still get on each host (test rentals count as room).
  const free = (name: string, help: string, pick: (room: ReturnType<typeof hostFree>) => number) => new Gauge({
    name, help, labelNames: ['host'], registers: [registry],
    collect() {
      for (const h of fleet.snapshot()) this.set({ host: h.name }, pick(hostFree(h.inventory)));
    },
  });
  free('miner_host_free_cores', 'Cores no rental holds on the host', (r) => r.cpu.count);
  free('miner_host_free_gpus', 'GPUs no rental holds on the host', (r) => r.gpu.count);
  free('miner_host_free_memory_bytes', 'Memory not committed to rentals on the host', (r) => r.ram.available);
  free('miner_host_free_disk_bytes', 'Disk not committed to rentals on the host', (r) => r.hard_disk.free);
  new Gauge({
    name: 'miner_host_warm_containers',
    help: 'Warm containers started on the host, waiting for a rental',
    labelNames: ['host'],
    registers: [registry],
    collect() {
      for (const h of fleet.state().hosts) this.set({ host: h.name }, h.warm);
    },
  });
  new Counter({
    name: 'miner_rental_events_total',
    help: 'Events told to renters since start: oom (a process killed at the memory limit), crash (the container stopped and was started again), expiring (a warning before the end)',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(fleet.notices?.counts() ?? {})) this.inc({ kind }, n);
    },
  });
}
