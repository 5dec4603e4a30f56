// The rental daemon in /metrics: whether it answers, and how often the miner had to start it
// again, read from the keeper at scrape time.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RentalEngine } from './rental-engine.js';

/** Registers nothing when the miner keeps no daemon of its own (an operator's --docker-socket, a hosts file). */
export function registerRentalDaemonMetrics(registry: Registry, engine: Pick<RentalEngine, 'keepsDaemon' | 'daemonState'>): void {
  if (!engine.keepsDaemon) return;
  const state = () => engine.daemonState();
  new Gauge({
    name: 'miner_rental_daemon_up',
    help: 'Whether the miner\'s own rental Docker daemon answers (1) or not (0)',
    registers: [registry],
    collect() {
      this.set(state()?.up === false ? 0 : 1);
    },
  });
  new Counter({
    name: 'miner_rental_daemon_restarts_total',
    help: 'Times the miner started its rental Docker daemon again (it died, hung, or ran without live restore)',
    registers: [registry],
    collect() {
      // The keeper counts; a counter is only ever set forward from it.
      this.reset();
      this.inc(state()?.restarts ?? 0);
    },
  });
}
