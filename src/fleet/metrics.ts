// Each host of a fleet in /metrics: whether its engine answers and how many rentals it holds,
// read from the fleet at scrape time.
import { Gauge, type Registry } from 'prom-client';
import type { Fleet } from './fleet.js';

export function registerFleetMetrics(registry: Registry, fleet: Pick<Fleet, 'state'>): void {
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
}
