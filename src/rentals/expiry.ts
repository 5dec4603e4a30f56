// One expiry schedule over the ledger's deadlines: a single timer for the soonest live rental,
// re-armed whenever the ledger changes. Long waits are taken in hops (setTimeout's 24.8-day limit).
import { createExpiryScheduler } from '../containers/scheduler.js';
import type { Rental } from './record.js';

export interface ExpirySchedule {
  /** Re-reads the deadlines (after a rental is made, changed or ended). */
  rearm(): void;
  /** Hands a rental whose end failed to the next expiry again. */
  retry(id: string): void;
  cancel(): void;
  /** The deadline the timer waits for, if any. */
  readonly next: number | undefined;
}

/** `rentals()` is read at each arming; `onExpired` gets every rental past its deadline. */
export function expirySchedule(rentals: () => readonly Rental[], onExpired: (due: Rental[]) => void, now: () => number = Date.now): ExpirySchedule {
  const timer = createExpiryScheduler(now);
  let stopped = false;
  // Handed to onExpired and not gone yet: ending is asynchronous, so these are never handed twice.
  const handed = new Set<string>();
  const rearm = (): void => {
    if (stopped) return;
    const all = rentals();
    for (const id of handed) if (!all.some((r) => r.id === id)) handed.delete(id);
    const live = all.filter((r) => r.phase === 'live' && !handed.has(r.id));
    if (live.length === 0) { timer.cancel(); return; }
    const soonest = Math.min(...live.map((r) => r.deadline));
    if (timer.deadline === soonest) return;
    timer.schedule(soonest, () => {
      const t = now();
      const due = rentals().filter((r) => r.phase === 'live' && r.deadline <= t && !handed.has(r.id));
      for (const r of due) handed.add(r.id);
      if (due.length > 0) onExpired(due);
      rearm();
    });
  };
  return {
    rearm: () => { stopped = false; rearm(); },
    retry: (id) => { handed.delete(id); rearm(); },
    cancel: () => { stopped = true; timer.cancel(); },
    get next() { return timer.deadline; },
  };
}
