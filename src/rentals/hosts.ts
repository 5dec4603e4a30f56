// Each host's cached view: whether its engine answers and what it has, refreshed in the
// background and, when stale, before a decision, always within a bound. Questions are answered
// from these views, so a host whose engine hangs answers for itself within the bound and never
// holds up the others.
import type { PortPool } from '../resources/ports.js';
import { HostNotAnsweringError, type HostFacts, type RentalRuntime } from './runtime.js';

export interface RentalHost {
  name: string;
  /** What renters SSH to; absent for the axon's own machine when no hosts file names one. */
  address?: string;
  /** The engine's endpoint, for /health and the status page. */
  endpoint: string;
  runtime: RentalRuntime;
  sshPorts: PortPool;
  renterPorts: PortPool | null;
  /** Whether the host may rent now (its storage pool and firewall); absent: always. */
  ready?: () => { applied: boolean; error?: string };
}

export interface HostView {
  readonly host: RentalHost;
  up: boolean;
  /** Why it is down, when it is. */
  error?: string;
  /** Last facts read (kept while down: the status page and Specs show them). */
  facts: HostFacts | null;
  checkedAt: number;
  /** A refresh in flight, shared by everyone who asks meanwhile. */
  refreshing?: Promise<void>;
}

export interface HostViews {
  all(): readonly HostView[];
  get(name: string): HostView | undefined;
  /**
   * Refreshes the views older than `maxAgeMs` (all when 0); waits at most the bound for a ping,
   * and `factsBoundMs` [the bound] for what a host has when it was never read (start waits longer).
   */
  refresh(maxAgeMs: number, factsBoundMs?: number): Promise<void>;
}

/** `onBack` is called when a host that was down answers again (its rentals are reconciled). */
export function hostViews(hosts: readonly RentalHost[], boundMs: number, onBack: (view: HostView) => void, onDown: (view: HostView, error: string) => void): HostViews {
  const views: HostView[] = hosts.map((host) => ({ host, up: true, facts: null, checkedAt: 0 }));
  const byName = new Map(views.map((v) => [v.host.name, v]));

  function down(view: HostView, message: string): void {
    if (view.up || view.error !== message) onDown(view, message);
    view.up = false;
    view.error = message;
  }

  /** Up or down by a bounded ping; what the host has is read once (within `factsBoundMs`), then in the background. */
  function look(view: HostView, factsBoundMs: number): Promise<void> {
    const { runtime, name } = view.host;
    view.refreshing ??= (async () => {
      const answers = await bounded(runtime.ping(boundMs), boundMs, name).catch(() => false);
      if (!answers) return down(view, `host ${name} is not answering: no answer within ${boundMs} ms`);
      if (view.facts) {
        void runtime.facts().then((facts) => { view.facts = facts; }, () => undefined);
      } else {
        try {
          view.facts = await bounded(runtime.facts(), factsBoundMs, name);
        } catch (err) {
          // It answers, but has not said what it has yet: placement sees nothing to rent there.
          view.error = `host ${name} has not said what it has yet: ${(err as Error).message}`;
        }
      }
      const wasDown = !view.up;
      view.up = true;
      if (view.facts) delete view.error;
      if (wasDown) onBack(view);
    })().finally(() => {
      view.checkedAt = Date.now();
      delete view.refreshing;
    });
    return view.refreshing;
  }

  return {
    all: () => views,
    get: (name) => byName.get(name),
    async refresh(maxAgeMs, factsBoundMs = boundMs) {
      const now = Date.now();
      await Promise.all(views.filter((v) => maxAgeMs === 0 || now - v.checkedAt > maxAgeMs).map((v) => look(v, factsBoundMs)));
    },
  };
}

/** `work`, or HostNotAnsweringError once `ms` have passed without an answer (the work is left to finish on its own). */
export function bounded<T>(work: Promise<T>, ms: number, host: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HostNotAnsweringError(host, `no answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
