// Pure: what one host's reconcile does, from the ledger's rentals on it and the workloads its
// runtime lists by label. A workload no rental knows is an orphan (removed); a live rental whose
// workload is gone is cleared; one past its deadline is released; one found stopped (its host
// rebooted) is started again.
import type { Rental } from './record.js';
import type { OwnedWorkload } from './runtime.js';

export interface ReconcilePlan {
  orphans: OwnedWorkload[];
  /** Live rentals whose workload is gone. */
  clear: Rental[];
  expire: Rental[];
  resume: Rental[];
  /** Live rentals found as they should be. */
  keep: Rental[];
}

const STOPPED = new Set(['exited', 'created', 'dead']);

export function reconcilePlan(rentals: readonly Rental[], found: readonly OwnedWorkload[], knownIds: ReadonlySet<string>, now: number): ReconcilePlan {
  const plan: ReconcilePlan = { orphans: [], clear: [], expire: [], resume: [], keep: [] };
  const byRental = new Map<string, OwnedWorkload>();
  for (const w of found) {
    // Rentals being made or ended are known too: their workloads are theirs, whatever the phase.
    if (!knownIds.has(w.rentalId)) plan.orphans.push(w);
    else byRental.set(w.rentalId, w);
  }
  for (const rental of rentals) {
    if (rental.phase !== 'live') continue;
    const workload = byRental.get(rental.id);
    if (!workload) plan.clear.push(rental);
    else if (rental.deadline <= now) plan.expire.push(rental);
    else if (STOPPED.has(workload.state)) plan.resume.push(rental);
    else plan.keep.push(rental);
  }
  return plan;
}
