// The axon's Prometheus metrics, in a registry of its own (several axons can share a process).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { isSynapseName } from '../../protocol/index.js';

export interface AxonMetrics {
  readonly registry: Registry;
  /** Counts one answered request; `synapse` is any name, unknown ones are counted as "unknown". */
  observe(synapse: string, code: number, seconds: number): void;
  connectionOpened(): void;
  connectionClosed(): void;
  /** Counts one refused request by its reason (not_allowed, replay, bad_signature, rate_limited, ...). */
  refused(reason: string): void;
  /** Counts a connection displaced by a newer one. */
  displaced(): void;
  /** Counts a connection the axon closed or turned away, by reason (house_full, address_full, refused_requests). */
  connectionRefused(reason: string): void;
}

export interface AxonGauges {
  queueDepth(): number;
  running(): number;
  /** Open connections still on probation. */
  probationary(): number;
}

export function createAxonMetrics(gauges: AxonGauges): AxonMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'axon_requests_total',
    help: 'Requests answered, by synapse and status code',
    labelNames: ['synapse', 'code'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'axon_request_duration_seconds',
    help: 'Time from frame arrival to reply, by synapse',
    labelNames: ['synapse'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const connections = new Gauge({ name: 'axon_open_connections', help: 'Open WebSocket connections', registers: [registry] });
  new Gauge({
    name: 'axon_queue_depth',
    help: 'Requests waiting for a handler slot',
    registers: [registry],
    collect() {
      this.set(gauges.queueDepth());
    },
  });
  new Gauge({
    name: 'axon_handlers_running',
    help: 'Handlers running now',
    registers: [registry],
    collect() {
      this.set(gauges.running());
    },
  });
  new Gauge({
    name: 'axon_probationary_connections',
    help: 'Open connections none of whose requests has been accepted yet',
    registers: [registry],
    collect() {
      this.set(gauges.probationary());
    },
  });
  const refusals = new Counter({
    name: 'axon_refusals_total',
    help: 'Requests refused before reaching a handler, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const displaced = new Counter({ name: 'axon_displaced_connections_total', help: 'Connections on probation displaced by a newer connection', registers: [registry] });
  const connectionRefusals = new Counter({
    name: 'axon_connections_refused_total',
    help: 'Connections turned away (house_full, address_full) or closed for their refused requests (refused_requests)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const refusalChildren = new Map<string, { inc(): void }>();
  // Label children are looked up once per (synapse, code), not built per request.
  const counters = new Map<string, { inc(): void }>();
  const timers = new Map<string, { observe(v: number): void }>();
  return {
    registry,
    observe(synapse, code, seconds) {
      const name = isSynapseName(synapse) ? synapse : 'unknown';
      const key = `${name} ${code}`;
      let counter = counters.get(key);
      if (!counter) counters.set(key, (counter = requests.labels(name, String(code))));
      counter.inc();
      let timer = timers.get(name);
      if (!timer) timers.set(name, (timer = latency.labels(name)));
      timer.observe(seconds);
    },
    connectionOpened: () => connections.inc(),
    connectionClosed: () => connections.dec(),
    refused(reason) {
      let counter = refusalChildren.get(reason);
      if (!counter) refusalChildren.set(reason, (counter = refusals.labels(reason)));
      counter.inc();
    },
    displaced: () => displaced.inc(),
    connectionRefused: (reason) => connectionRefusals.labels(reason).inc(),
  };
}
