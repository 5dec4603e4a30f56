// Keeps the rental Docker daemon alive under a running miner: it is pinged every few seconds
// (with a bound), a daemon that died is started again at once (pool, bridge, firewall as at
// start), one that lives but does not answer is restarted after a grace period, and the rentals
// side is then asked to reconcile. A daemon that keeps dying is restarted less and less often
// (reported, never a tight loop). A daemon started by an older release without live restore is
// restarted with it as soon as it runs no container; one started without user namespaces is
// switched to them as soon as it holds no container besides standbys. The decision is the pure
// keeperDecision().
import type { Logger } from '../log.js';

export interface KeeperPolicy {
  /** How often the daemon is pinged [2 s]. */
  intervalMs: number;
  /** A ping not answered within this is a failed ping [3 s]. */
  pingTimeoutMs: number;
  /** A daemon whose process lives but that does not answer this long is restarted [30 s]. */
  hungAfterMs: number;
  /** The wait before the second restart in a row; doubled for each further one [2 s]. */
  backoffBaseMs: number;
  /** The longest wait between restarts [5 min]. */
  backoffMaxMs: number;
  /** A daemon that answers this long after a restart is stable again: the backoff starts over [2 min]. */
  stableAfterMs: number;
  /** How often a daemon without live restore or user namespaces is asked whether it runs containers [30 s]. */
  liveRestoreCheckMs: number;
}

export const DEFAULT_KEEPER_POLICY: Readonly<KeeperPolicy> = Object.freeze({
  intervalMs: 2000,
  pingTimeoutMs: 3000,
  hungAfterMs: 30_000,
  backoffBaseMs: 2000,
  backoffMaxMs: 5 * 60_000,
  stableAfterMs: 2 * 60_000,
  liveRestoreCheckMs: 30_000,
});

/** What the keeper remembers between pings. */
export interface KeeperMemory {
  /** Since when the daemon has not answered (ms), while it does not. */
  downSince?: number;
  /** Restarts since the daemon was last stable: the backoff grows with them. */
  recentRestarts: number;
  /** When the last restart was made (ms). */
  lastRestartAt?: number;
}

export interface KeeperObservation {
  answering: boolean;
  /** The daemon's process lives (or a restart on purpose is under way): it may answer again by itself. */
  processAlive: boolean;
}

export type KeeperDecision =
  | { action: 'none'; memory: KeeperMemory }
  | { action: 'wait'; memory: KeeperMemory; until: number; why: 'not answering' | 'backing off' }
  | { action: 'restart'; memory: KeeperMemory; why: 'died' | 'not answering' };

/** The wait before restart number `n` (0-based) since the daemon was last stable. Pure. */
export function backoffMs(n: number, policy: Pick<KeeperPolicy, 'backoffBaseMs' | 'backoffMaxMs'>): number {
  if (n <= 0) return 0;
  return Math.min(policy.backoffBaseMs * 2 ** Math.min(n - 1, 30), policy.backoffMaxMs);
}

/** What to do after one ping, at `now`. Pure. */
export function keeperDecision(memory: KeeperMemory, seen: KeeperObservation, now: number, policy: KeeperPolicy = DEFAULT_KEEPER_POLICY): KeeperDecision {
  if (seen.answering) {
    const stable = memory.lastRestartAt === undefined || now - memory.lastRestartAt >= policy.stableAfterMs;
    return { action: 'none', memory: { ...memory, downSince: undefined, recentRestarts: stable ? 0 : memory.recentRestarts } };
  }
  const downSince = memory.downSince ?? now;
  const next = { ...memory, downSince };
  if (seen.processAlive && now - downSince < policy.hungAfterMs) {
    return { action: 'wait', memory: next, until: downSince + policy.hungAfterMs, why: 'not answering' };
  }
  // The wait counts from the last restart: a daemon that died again at once waits out the backoff.
  const earliest = (memory.lastRestartAt ?? -Infinity) + backoffMs(memory.recentRestarts, policy);
  if (now < earliest) return { action: 'wait', memory: next, until: earliest, why: 'backing off' };
  return {
    action: 'restart',
    memory: { downSince, recentRestarts: memory.recentRestarts + 1, lastRestartAt: now },
    why: seen.processAlive ? 'not answering' : 'died',
  };
}

/** A daemon without live restore is restarted with it only when no container (standbys aside) would be stopped. Pure. */
export function liveRestoreUpgrade(answer: { liveRestore?: boolean; containersRunning?: number }): 'none' | 'restart' | 'keep' {
  if (answer.liveRestore !== false) return 'none';
  return answer.containersRunning === 0 ? 'restart' : 'keep';
}

/**
 * A daemon without user namespaces is switched to them only when it holds no container besides
 * standbys, running or stopped: the remapped daemon cannot see the old one's. Pure.
 */
export function remapSwitch(answer: { remapped?: boolean; containersKept?: number }): 'none' | 'switch' | 'keep' {
  if (answer.remapped !== false) return 'none';
  return answer.containersKept === 0 ? 'switch' : 'keep';
}

/** Why the keeper restarts the daemon: a hung one is not given the long graceful stop. */
export type RestartReason = 'died' | 'not answering' | 'live restore' | 'userns remap';

/** The daemon the keeper looks after, and how it is brought back (injectable: tests keep a private one). */
export interface KeptDaemon {
  endpoint: string;
  ping(timeoutMs: number): Promise<boolean>;
  /**
   * /info's answer: whether live restore is on, how many containers run (standbys aside); whether
   * it remaps users and, when not, how many containers it holds besides standbys.
   */
  info(): Promise<{ ok: boolean; liveRestore?: boolean; containersRunning?: number; remapped?: boolean; containersKept?: number }>;
  processAlive(): boolean;
  /**
   * Stops what is left of it and starts it as at start-up (pool, bridge, daemon, firewall);
   * 'unchanged' when it found a reason not to (a rental came before a switch).
   */
  restart(why: RestartReason): Promise<void | 'unchanged'>;
}

export interface KeeperState {
  endpoint: string;
  up: boolean;
  restarts: number;
  /** ISO times. */
  downSince?: string;
  lastRestartAt?: string;
  nextAttemptAt?: string;
  lastError?: string;
  liveRestore?: boolean;
  /** Whether root in a rental is an unprivileged id on the host (--userns-remap). */
  remapped?: boolean;
}

export interface DaemonKeeper {
  state(): KeeperState;
  /** No further checks; a restart under way finishes on its own (the daemon is detached). */
  stop(): void;
}

export function keepDaemon(opts: {
  daemon: KeptDaemon;
  log: Logger;
  /** Called after each restart: the rentals side reconciles with what the daemon holds now. */
  onRestarted: () => Promise<void>;
  policy?: Partial<KeeperPolicy>;
}): DaemonKeeper {
  const policy: KeeperPolicy = { ...DEFAULT_KEEPER_POLICY, ...opts.policy };
  const { daemon, log } = opts;
  let memory: KeeperMemory = { recentRestarts: 0 };
  let state: KeeperState = { endpoint: daemon.endpoint, up: true, restarts: 0 };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let lastInfoAt = -Infinity;
  let said = '';
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  // A problem is logged when it starts or changes, not on every ping.
  const sayOnce = (key: string, say: () => void) => { if (said !== key) { said = key; say(); } };
  // Why an old daemon is kept is said once for as long as it stays so (answering pings do not reset it).
  let keptFor = '';
  const sayKeptOnce = (key: string, say: () => void) => { if (keptFor !== key) { keptFor = key; say(); } };

  async function restart(why: RestartReason): Promise<void> {
    const begun = Date.now();
    try {
      if ((await daemon.restart(why)) === 'unchanged') return;
      state = { ...state, up: true, restarts: state.restarts + 1, lastRestartAt: iso(begun), downSince: undefined, nextAttemptAt: undefined, lastError: undefined };
      log.warn({ endpoint: daemon.endpoint, why, restarts: state.restarts, tookMs: Date.now() - begun }, 'rental Docker daemon started again');
      said = '';
      lastInfoAt = -Infinity; // the new daemon's live restore is read at the next ping
      if (stopped) return;
      try {
        await opts.onRestarted();
        log.info('rentals reconciled after the rental Docker daemon restart');
      } catch (err) {
        log.error({ err: (err as Error).message }, 'rentals could not be reconciled after the rental Docker daemon restart');
      }
    } catch (err) {
      state = { ...state, up: false, restarts: state.restarts + 1, lastRestartAt: iso(begun), lastError: (err as Error).message };
      log.error({ endpoint: daemon.endpoint, err: state.lastError }, 'rental Docker daemon could not be started again');
    }
  }

  async function check(): Promise<void> {
    const now = Date.now();
    const answering = await daemon.ping(policy.pingTimeoutMs);
    const decision = keeperDecision(memory, { answering, processAlive: !answering && daemon.processAlive() }, now, policy);
    memory = decision.memory;
    if (decision.action === 'none') {
      if (!state.up) log.info({ endpoint: daemon.endpoint }, 'rental Docker daemon answers again');
      state = { ...state, up: true, downSince: undefined, nextAttemptAt: undefined };
      said = '';
      if (now - lastInfoAt >= policy.liveRestoreCheckMs) {
        lastInfoAt = now;
        const info = await daemon.info();
        if (info.ok) {
          state = { ...state, liveRestore: info.liveRestore !== false, remapped: info.remapped !== false };
          const upgrade = liveRestoreUpgrade(info);
          const remap = remapSwitch(info);
          // The switch starts a daemon with live restore too, so it goes first.
          if (remap === 'switch' && !stopped) {
            log.warn({ endpoint: daemon.endpoint }, 'the rental Docker daemon runs without user namespaces (started by an older release) and holds no container besides standbys: switching it to --userns-remap');
            await restart('userns remap');
          } else if (remap === 'keep') {
            sayKeptOnce('remap', () => log.warn({ endpoint: daemon.endpoint, containersKept: info.containersKept }, 'the rental Docker daemon runs without user namespaces (started by an older release): root in its rentals is root on the host; it holds containers besides standbys, which a remapped daemon could not see, so it is switched to --userns-remap once it holds none'));
          } else if (upgrade === 'restart' && !stopped) {
            log.warn({ endpoint: daemon.endpoint }, 'the rental Docker daemon runs without live restore (started by an older release) and no container: restarting it with live restore');
            await restart('live restore');
          } else if (upgrade === 'keep') {
            sayKeptOnce('live restore', () => log.warn({ endpoint: daemon.endpoint, containersRunning: info.containersRunning }, 'the rental Docker daemon runs without live restore (started by an older release): its containers would not outlive a restart; it is restarted with live restore once it runs none'));
          }
        }
      }
      return;
    }
    state = { ...state, up: false, downSince: iso(memory.downSince) };
    if (decision.action === 'wait') {
      state = { ...state, nextAttemptAt: iso(decision.until) };
      if (decision.why === 'backing off') {
        sayOnce(`backoff ${decision.until}`, () => log.error({ endpoint: daemon.endpoint, restarts: state.restarts, nextAttemptAt: state.nextAttemptAt }, 'the rental Docker daemon keeps dying: the next restart waits'));
      } else {
        sayOnce('hung', () => log.warn({ endpoint: daemon.endpoint, restartAt: state.nextAttemptAt }, 'the rental Docker daemon does not answer; it is restarted if it still does not'));
      }
      return;
    }
    if (stopped) return;
    log.warn({ endpoint: daemon.endpoint, why: decision.why }, decision.why === 'died' ? 'the rental Docker daemon died: starting it again' : 'the rental Docker daemon does not answer: restarting it');
    await restart(decision.why);
  }

  const run = () => void check().catch((err: unknown) => log.error({ err: (err as Error).message }, 'rental daemon check failed')).finally(schedule);
  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(run, policy.intervalMs);
    timer.unref();
  }
  // The first check at once: a daemon without live restore is met at start.
  run();

  return {
    state: () => ({ ...state }),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
