// Refusals summed over a period and logged once at its end, with the top offenders, so a
// flood is visible in the log without the log itself becoming the flood's amplifier.
import type { Logger } from '../log.js';

/** Offenders named in one summary line. */
export const FLOOD_REPORT_TOP = 5;
/** Distinct addresses (and hotkeys) counted per period; the rest are summed as "others". */
export const FLOOD_REPORT_TABLE_SIZE = 10_000;

/** A bounded tally of counts by key. */
class Tally {
  readonly counts = new Map<string, number>();
  others = 0;

  add(key: string): void {
    const count = this.counts.get(key);
    if (count !== undefined) this.counts.set(key, count + 1);
    else if (this.counts.size < FLOOD_REPORT_TABLE_SIZE) this.counts.set(key, 1);
    else this.others++;
  }

  top(n: number): { key: string; count: number }[] {
    return [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, n).map(([key, count]) => ({ key, count }));
  }
}

export interface FloodSummary {
  seconds: number;
  /** Refused requests by reason. */
  refused: Record<string, number>;
  /** Connections displaced, turned away, or closed for refusals. */
  connections: Record<string, number>;
  topAddresses: { address: string; count: number }[];
  topHotkeys: { hotkey: string; count: number }[];
}

export class FloodReport {
  private reasons = new Map<string, number>();
  private connectionEvents = new Map<string, number>();
  private addresses = new Tally();
  private hotkeys = new Tally();
  private total = 0;
  private since = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger, private readonly intervalMs: number, private readonly minRefusals: number) {}

  /** A refused request; `hotkey` is the one it claimed (empty when it could not be read). */
  refusedRequest(reason: string, address: string, hotkey: string): void {
    this.total++;
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    this.addresses.add(address);
    if (hotkey) this.hotkeys.add(hotkey);
  }

  /** A connection displaced, turned away or closed for its refusals. */
  connectionEvent(event: string, address: string): void {
    this.total++;
    this.connectionEvents.set(event, (this.connectionEvents.get(event) ?? 0) + 1);
    this.addresses.add(address);
  }

  start(): void {
    this.timer = setInterval(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Ends the period: logs its summary when it reached the threshold, and returns it (or null). */
  flush(now: number = Date.now()): FloodSummary | null {
    const reached = this.total >= this.minRefusals;
    const summary: FloodSummary | null = reached
      ? {
          seconds: Math.round((now - this.since) / 1000),
          refused: Object.fromEntries(this.reasons),
          connections: Object.fromEntries(this.connectionEvents),
          topAddresses: this.addresses.top(FLOOD_REPORT_TOP).map(({ key, count }) => ({ address: key, count })),
          topHotkeys: this.hotkeys.top(FLOOD_REPORT_TOP).map(({ key, count }) => ({ hotkey: key, count })),
        }
      : null;
    if (summary) this.log.warn({ flood: summary }, `axon: refused ${this.total} requests and connections in ${summary.seconds} s`);
    this.reasons = new Map();
    this.connectionEvents = new Map();
    this.addresses = new Tally();
    this.hotkeys = new Tally();
    this.total = 0;
    this.since = now;
    return summary;
  }
}
