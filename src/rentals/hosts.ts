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
  /** Refreshes the views older than `maxAgeMs` (all when 0); never waits longer than the bound. */
  refresh(maxAgeMs: number): Promise<void>;
}

/** `onBack` is called when a host that was down answers again (its rentals are reconciled). */
export function hostViews(hosts: readonly RentalHost[], boundMs: number, onBack: (view: HostView) => void, onDown: (view: HostView, error: string) => void): HostViews {
  const views: HostView[] = hosts.map((host) => ({ host, up: true, facts: null, checkedAt: 0 }));
  const byName = new Map(views.map((v) => [v.host.name, v]));

  function look(view: HostView): Promise<void> {
    view.refreshing ??= bounded(view.host.runtime.facts(boundMs), boundMs, view.host.name).then(
      (facts) => {
        const wasDown = !view.up;
        view.facts = facts;
        view.up = true;
        delete view.error;
        if (wasDown) onBack(view);
      },
      (err: unknown) => {
        const message = (err as Error).message;
        if (view.up || view.error !== message) onDown(view, message);
        view.up = false;
        view.error = message;
      },
    ).finally(() => {
      view.checkedAt = Date.now();
      delete view.refreshing;
    });
    return view.refreshing;
  }

  return {
    all: () => views,
    get: (name) => byName.get(name),
    async refresh(maxAgeMs) {
      const now = Date.now();
      await Promise.all(views.filter((v) => maxAgeMs === 0 || now - v.checkedAt > maxAgeMs).map(look));
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
