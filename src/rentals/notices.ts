// Events reach the people they concern: what the engine saw happen to a rental (an OOM kill, a
// crash and restart) and the expiry warnings are recorded on the rental in the ledger (status page,
// /status.json), logged, counted for /metrics, and told to the renter inside the rental (the
// notices file the motd names, and a message to logged-in sessions). Telling the renter is best
// effort: a rental that cannot be reached still has its event recorded.
import type { Logger } from '../log.js';
import { crashEvent, dueWarning, noticesText, oomEvent, withEvent, type RentalEvent, type RentalEventKind } from './events.js';
import type { HostViews } from './hosts.js';
import type { Ledger } from './ledger.js';
import type { Rental } from './record.js';
import type { WorkloadEvent } from './runtime.js';

/** How often expiry warnings are looked for. */
export const WARNING_CHECK_MS = 30_000;

/** Exit codes of a stop the miner itself asked for (SIGTERM, SIGKILL after the grace time): no crash. */
const ASKED_STOP_CODES = new Set(['0', '137', '143']);

export function rentalNotices(options: { ledger: Ledger; views: HostViews; log: Logger; inQueue: (id: string, task: () => Promise<void>) => Promise<void> }) {
  const { ledger, views, log } = options;
  const counts = new Map<RentalEventKind, number>();
  const stops: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;

  /** Records the event on the rental, logs and counts it, and tells the renter, in the rental's queue. */
  function record(rental: Rental, event: RentalEvent): void {
    counts.set(event.kind, (counts.get(event.kind) ?? 0) + 1);
    const level = event.kind === 'expiring' ? 'info' : 'warn';
    log[level]({ rental: rental.id, host: rental.host, event: event.kind }, event.text);
    void options.inQueue(rental.id, async () => {
      const current = ledger.get(rental.id);
      if (!current || current.phase !== 'live' || !current.workload) return;
      const events = withEvent(current.events, event);
      ledger.commit({ ...current, events });
      const view = views.get(current.host);
      if (!view?.up) return;
      await view.host.runtime.notify(current.workload, noticesText(events), event.text)
        .catch((err: unknown) => log.warn({ rental: current.id, err: (err as Error).message }, 'the renter could not be told'));
    }).catch(() => undefined);
  }

  function onWorkloadEvent(event: WorkloadEvent): void {
    const rental = ledger.all().find((r) => r.workload?.container === event.container);
    // Ours only while live: a rental being made or ended stops and starts its container itself.
    if (!rental || rental.phase !== 'live') return;
    if (event.kind === 'oom') record(rental, oomEvent(event.at, rental.grant.memoryBytes));
    else if (!ASKED_STOP_CODES.has(event.exitCode ?? '')) record(rental, crashEvent(event.at, event.exitCode ?? '?'));
  }

  function checkWarnings(): void {
    const now = Date.now();
    for (const rental of ledger.all()) {
      if (rental.phase !== 'live') continue;
      const due = dueWarning(rental, now);
      if (due) record(rental, due);
    }
  }

  return {
    /** Follows every host's engine events and looks for due warnings from now on. */
    start(): void {
      for (const view of views.all()) stops.push(view.host.runtime.watch(onWorkloadEvent));
      checkWarnings();
      timer = setInterval(checkWarnings, WARNING_CHECK_MS);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      for (const stop of stops.splice(0)) stop();
    },
    /** Events told since start, by kind (for /metrics). */
    counts: (): Record<RentalEventKind, number> => ({ oom: counts.get('oom') ?? 0, crash: counts.get('crash') ?? 0, expiring: counts.get('expiring') ?? 0 }),
    onWorkloadEvent,
    checkWarnings,
  };
}
