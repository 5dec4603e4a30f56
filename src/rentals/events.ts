// What happens to a rental that its renter and the operator must hear of: the out-of-memory killer
// hit it, its container stopped and Docker started it again, its end is near. Pure: the events'
// words, which expiry warnings are due, and the notices file the renter reads in the rental.
import type { Rental } from './record.js';

export const RENTAL_EVENT_KINDS = ['oom', 'crash', 'expiring'] as const;
export type RentalEventKind = (typeof RENTAL_EVENT_KINDS)[number];

export interface RentalEvent {
  /** Milliseconds since the epoch. */
  at: number;
  kind: RentalEventKind;
  text: string;
  /** An expiry warning's threshold (ms before the deadline). */
  threshold?: number;
}

/** Events kept per rental (the newest); older ones are dropped. */
export const MAX_RENTAL_EVENTS = 20;

/** Warnings before a rental ends, largest first. */
export const EXPIRY_WARNINGS_MS = [24 * 3_600_000, 3_600_000, 10 * 60_000] as const;

/** Where the renter finds the miner's notices inside the rental (the motd names it). */
export const NOTICES_PATH = '/etc/compute-miner/notices';

function span(ms: number): string {
  if (ms >= 3_600_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.max(1, Math.round(ms / 60_000))} min`;
}

/**
 * The expiry warning due now, if any: for the smallest threshold already crossed, unless a warning
 * at that threshold or a smaller one was given. A threshold already crossed when the rental was
 * made is never warned of (a rental of 30 minutes gets the 10-minute warning only).
 */
export function dueWarning(rental: Pick<Rental, 'createdAt' | 'deadline'> & { events?: RentalEvent[] }, now: number): RentalEvent | null {
  const left = rental.deadline - now;
  if (left <= 0) return null;
  const crossed = EXPIRY_WARNINGS_MS.filter((t) => left <= t && rental.deadline - t > rental.createdAt);
  const smallest = crossed.at(-1);
  if (smallest === undefined) return null;
  if ((rental.events ?? []).some((e) => e.kind === 'expiring' && e.threshold !== undefined && e.threshold <= smallest)) return null;
  return {
    at: now, kind: 'expiring', threshold: smallest,
    text: `this rental ends in ${span(left)} (${new Date(rental.deadline).toISOString().replace(/\.\d{3}Z$/, 'Z')} UTC): the container and its files are removed then; copy out what you need`,
  };
}

export function oomEvent(at: number, memoryBytes: number): RentalEvent {
  const limit = memoryBytes > 0 ? `${Math.round(memoryBytes / 1024 ** 2)} MiB` : 'its';
  return { at, kind: 'oom', text: `a process was killed by the out-of-memory killer: the rental reached ${limit} memory limit` };
}

export function crashEvent(at: number, exitCode: string): RentalEvent {
  return { at, kind: 'crash', text: `the container stopped (exit code ${exitCode}) and was started again; processes started by hand are gone` };
}

/** The rental's events with one more, the newest MAX_RENTAL_EVENTS kept. */
export function withEvent(events: readonly RentalEvent[] | undefined, event: RentalEvent): RentalEvent[] {
  return [...(events ?? []), event].slice(-MAX_RENTAL_EVENTS);
}

/** The notices file: every event, newest last, one line each. */
export function noticesText(events: readonly RentalEvent[]): string {
  return events.map((e) => `${new Date(e.at).toISOString().replace(/\.\d{3}Z$/, 'Z')}  ${e.text}`).join('\n') + '\n';
}
