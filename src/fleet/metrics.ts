// Each host in /metrics (one machine is a fleet of one): whether its engine answers and how many
// rentals it holds, read from the ledger at scrape time.
import { Gauge, type Registry } from 'prom-client';
import type { RentalsState } from '../rentals/readout.js';

export function registerFleetMetrics(registry: Registry, fleet: { state(): RentalsState }): void {
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
