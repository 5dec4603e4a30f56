// What the status page and `compute-miner status` show, as one JSON document: the miner's
// identity, Docker and the base image, each rental (its role and disk), each host and what it
// has free, the standby, request rate and latency since the miner started (an hour at most), and
// the challenge solver. Nothing secret is in it.
import type { HistoryPoint } from './history.js';
import type { HostCapacity } from '../rentals/capacity.js';
import type { RentalView } from '../rentals/readout.js';

export interface StatusDocument {
  hotkey: string;
  version: string;
  /** ISO 8601. */
  now: string;
  uptimeSeconds: number;
  docker: { reachable: boolean };
  /** The miner's own rental daemon, as its keeper sees it (absent with --docker-socket or a hosts file). */
  rentalDaemon?: RentalDaemonView;
  baseImage: { state: string; error?: string };
  standby: boolean;
  /** Set when the storage driver cannot enforce a rental's disk size. */
  storageLimit?: string;
  rentals: RentalView[];
  /** Each host: its engine (a host down is named, with its reason) and what it has free. */
  hosts?: HostView[];
  /** Set when the rentals could not be read (Docker down, unreadable record). */
  rentalsError?: string;
  requests: { intervalSeconds: number; points: HistoryPoint[] };
  challenge: { solver: string; hashcat: { state: string; version?: string; warmUpSeconds?: number; error?: string }; queued: number };
}

export interface RentalDaemonView {
  up: boolean;
  restarts: number;
  /** ISO times. */
  lastRestartAt?: string;
  nextAttemptAt?: string;
  lastError?: string;
  liveRestore?: boolean;
  /** Whether root in a rental is an unprivileged id on the host. */
  remapped?: boolean;
}

/** The rental daemon in one line, for the page and the CLI. Pure. */
export function rentalDaemonText(d: RentalDaemonView): string {
  const parts = [d.up ? 'answering' : 'NOT answering'];
  parts.push(d.restarts === 0 ? 'never restarted' : `restarted ${d.restarts} time${d.restarts === 1 ? '' : 's'}${d.lastRestartAt ? `, last at ${d.lastRestartAt}` : ''}`);
  if (d.nextAttemptAt && !d.up) parts.push(`next try at ${d.nextAttemptAt}`);
  if (d.lastError) parts.push(`last error: ${d.lastError}`);
  if (d.liveRestore === false) parts.push('without live restore (restarted with it once it runs no container)');
  if (d.remapped === false) parts.push('without user namespaces: root in a rental is root on the host (switched once it holds no rental)');
  return parts.join('; ');
}

export interface HostView {
  name: string;
  up: boolean;
  error?: string;
  slots: number;
  rentals: number;
  baseImage: string;
  /** SSH ports its rentals hold outside today's pool (absent from a miner of an older version). */
  outsidePool?: number[];
  capacity?: HostCapacity;
}

export interface StatusSources {
  hotkey: string;
  version: string;
  startedAt: number;
  dockerReachable(): Promise<boolean>;
  rentalDaemon?(): RentalDaemonView | undefined;
  manager(): { baseImage: string; baseImageError?: string; standby: boolean; storageLimit?: string };
  rentals(): Promise<RentalView[]>;
  /** Rentals on several engines are read even when the first one does not answer. */
  rentalsOnManyEngines?: boolean;
  hosts?(): HostView[];
  /** The request history (made with the axon, after this collector: hence a getter). */
  history(): { points(): Promise<HistoryPoint[]>; intervalMs: number };
  challenge(): { solver: string; hashcat: { state: string; version?: string; warmUpSeconds?: number; error?: string } };
  challengeQueued(): number;
}

/** Only the fields the document promises (the readout's host state has more, e.g. its endpoint). */
const hostView = (h: HostView): HostView => ({
  name: h.name, up: h.up, ...(h.error ? { error: h.error } : {}), slots: h.slots, rentals: h.rentals, baseImage: h.baseImage,
  ...(h.outsidePool ? { outsidePool: h.outsidePool } : {}), ...(h.capacity ? { capacity: h.capacity } : {}),
});

export function statusCollector(s: StatusSources): () => Promise<StatusDocument> {
  return async () => {
    const history = s.history();
    const [reachable, points] = await Promise.all([s.dockerReachable(), history.points()]);
    let rentals: RentalView[] = [];
    let rentalsError: string | undefined;
    try {
      rentals = reachable || s.rentalsOnManyEngines ? await s.rentals() : [];
      if (!reachable && !s.rentalsOnManyEngines) rentalsError = 'Docker does not answer';
    } catch (err) {
      rentalsError = (err as Error).message;
    }
    const m = s.manager();
    const c = s.challenge();
    const d = s.rentalDaemon?.();
    const daemon: RentalDaemonView | undefined = d && {
      up: d.up, restarts: d.restarts,
      ...(d.lastRestartAt ? { lastRestartAt: d.lastRestartAt } : {}), ...(d.nextAttemptAt ? { nextAttemptAt: d.nextAttemptAt } : {}),
      ...(d.lastError ? { lastError: d.lastError } : {}), ...(d.liveRestore !== undefined ? { liveRestore: d.liveRestore } : {}),
      ...(d.remapped !== undefined ? { remapped: d.remapped } : {}),
    };
    return {
      hotkey: s.hotkey,
      version: s.version,
      now: new Date().toISOString(),
      uptimeSeconds: Math.round((Date.now() - s.startedAt) / 1000),
      docker: { reachable },
      ...(daemon ? { rentalDaemon: daemon } : {}),
      baseImage: { state: m.baseImage, ...(m.baseImageError ? { error: m.baseImageError } : {}) },
      standby: m.standby,
      ...(m.storageLimit ? { storageLimit: m.storageLimit } : {}),
      rentals,
      ...(s.hosts ? { hosts: s.hosts().map(hostView) } : {}),
      ...(rentalsError ? { rentalsError } : {}),
      requests: { intervalSeconds: history.intervalMs / 1000, points },
      challenge: {
        solver: c.solver,
        hashcat: {
          state: c.hashcat.state,
          ...(c.hashcat.version ? { version: c.hashcat.version } : {}),
          ...(c.hashcat.warmUpSeconds !== undefined ? { warmUpSeconds: c.hashcat.warmUpSeconds } : {}),
          ...(c.hashcat.error ? { error: c.hashcat.error } : {}),
        },
        queued: s.challengeQueued(),
      },
    };
  };
}
