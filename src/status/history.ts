// Request rate and latency over the last hour, for the status page: the axon's Prometheus
// counters are sampled every interval and the differences kept in a ring of fixed length.
// The bucket still filling is read live, so the newest requests show at once.
import type { Registry } from 'prom-client';

/** Width of one bucket [60 s]. */
export const DEFAULT_HISTORY_INTERVAL_MS = 60_000;
/** Buckets kept: an hour of one-minute buckets [60]. */
export const DEFAULT_HISTORY_POINTS = 60;

export interface HistoryPoint {
  /** ISO 8601 start of the bucket. */
  at: string;
  requests: number;
  /** Mean latency in milliseconds of the bucket's requests; null without requests. */
  meanMs: number | null;
}

/**
 * Seconds the recorded buckets cover, from the first bucket's start to `nowMs`; never more than the
 * miner's uptime (the first bucket starts as the miner does). 0 without buckets. Pure.
 */
export function recordedSeconds(points: readonly HistoryPoint[], nowMs: number, uptimeSeconds: number): number {
  const first = points.length > 0 ? Date.parse(points[0]!.at) : NaN;
  if (!Number.isFinite(first)) return 0;
  return Math.max(0, Math.min(uptimeSeconds, (nowMs - first) / 1000));
}

interface Totals {
  count: number;
  seconds: number;
}

export interface RequestHistory {
  points(): Promise<HistoryPoint[]>;
  readonly intervalMs: number;
  stop(): void;
}

async function totals(registry: Registry): Promise<Totals> {
  const histogram = registry.getSingleMetric('axon_request_duration_seconds');
  if (!histogram) return { count: 0, seconds: 0 };
  const metric = await histogram.get();
  let count = 0;
  let seconds = 0;
  for (const v of metric.values) {
    const name = (v as { metricName?: string }).metricName ?? '';
    if (name.endsWith('_count')) count += v.value;
    else if (name.endsWith('_sum')) seconds += v.value;
  }
  return { count, seconds };
}

const point = (at: number, from: Totals, to: Totals): HistoryPoint => {
  const requests = to.count - from.count;
  return { at: new Date(at).toISOString(), requests, meanMs: requests > 0 ? ((to.seconds - from.seconds) / requests) * 1000 : null };
};

export function requestHistory(registry: Registry, opts: { intervalMs?: number; points?: number } = {}): RequestHistory {
  const intervalMs = opts.intervalMs ?? DEFAULT_HISTORY_INTERVAL_MS;
  const size = opts.points ?? DEFAULT_HISTORY_POINTS;
  const ring: HistoryPoint[] = [];
  let last: { at: number; totals: Totals } = { at: Date.now(), totals: { count: 0, seconds: 0 } };
  void totals(registry).then((t) => (last = { at: last.at, totals: t }));
  const timer = setInterval(() => {
    void totals(registry).then((t) => {
      ring.push(point(last.at, last.totals, t));
      if (ring.length > size) ring.shift();
      last = { at: Date.now(), totals: t };
    });
  }, intervalMs);
  timer.unref();
  return {
    intervalMs,
    async points() {
      const live = point(last.at, last.totals, await totals(registry));
      return [...ring, live].slice(-size);
    },
    stop: () => clearInterval(timer),
  };
}
