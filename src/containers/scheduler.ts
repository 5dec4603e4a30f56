// The in-process expiry timer of the allocation. Survives restarts through the stored deadline
// (the manager re-arms it on start). setTimeout fires at once beyond 2^31−1 ms (24.8 days),
// so long deadlines are reached in hops.
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ExpiryScheduler {
  /** Calls `onExpiry` at `deadline` (ms since the epoch); replaces any earlier schedule. */
  schedule(deadline: number, onExpiry: () => void): void;
  cancel(): void;
  /** The armed deadline, if any. */
  readonly deadline: number | undefined;
}

export function createExpiryScheduler(now: () => number = Date.now): ExpiryScheduler {
  let timer: NodeJS.Timeout | undefined;
  let armed: number | undefined;
  const cancel = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    armed = undefined;
  };
  const hop = (deadline: number, onExpiry: () => void) => {
    const wait = deadline - now();
    if (wait <= 0) { timer = undefined; armed = undefined; onExpiry(); return; }
    timer = setTimeout(() => hop(deadline, onExpiry), Math.min(wait, MAX_TIMER_MS));
    timer.unref(); // the axon keeps the process alive; a lone timer must not
  };
  return {
    schedule(deadline, onExpiry) {
      cancel();
      armed = deadline;
      hop(deadline, onExpiry);
    },
    cancel,
    get deadline() { return armed; },
  };
}
