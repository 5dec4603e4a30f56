// The rental service: the one thing the Allocate handler sees. Decisions (is it free, who holds
// this, where does a rental go, which ports) are made synchronously over the ledger and the
// hosts' cached views, so no decision ever waits for Docker; a grant is reserved in the ledger
// before anything is awaited. Slow work (a renter's build, a container's start, a removal) runs
// in the rental's own queue, beside other rentals' work, never under a lock they need.
import { randomBytes } from 'node:crypto';
import type { AllocateCredentials } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { dockerMessage, UnavailableError } from '../containers/errors.js';
import { generatePassword, type KeyType } from '../containers/secrets.js';
import { rentalActions } from './actions.js';
import type { DeviceRequirement } from '../containers/options.js';
import { checkFits, place } from '../fleet/placement.js';
import { placementRequest } from '../fleet/request.js';
import { bounded, hostViews, type HostView, type RentalHost } from './hosts.js';
import { holderDigest } from './holder.js';
import type { Ledger } from './ledger.js';
import { expirySchedule } from './expiry.js';
import { defaultDiskBytes, hostInventory, portsInUse, portsOutsidePool } from './room.js';
import { baseImageNotReady } from './answers.js';
import type { Rental } from './record.js';
import { reconcileHost } from './reconcile-host.js';
import { HostNotAnsweringError, RefusalError, type RentalSpec } from './runtime.js';
import { rentalQueues } from './queues.js';
import { warmKeeper, type RentalPorts } from './warm.js';
import { hostSnapshots, rentalsState, rentalViews } from './readout.js';
import { rentalNotices } from './notices.js';

export const NOT_HOLDER = 'permission denied: public_key is not the holder of this allocation';
export const NO_ALLOCATION = 'no allocation on this miner';
export const ALREADY_HOLDS = 'already allocated: this public_key holds a rental on this miner (release it first)';
export const RENTED_OUT = 'already allocated: this miner is rented out';
const DAY_MS = 86_400_000;
/** How long a host may take at start to say what it has. */
const START_FACTS_BOUND_MS = 60_000;
/** Disk of a rental whose request names none: no rental has unlimited disk. */
export const DEFAULT_RENTAL_DISK_BYTES = 10 * 1024 ** 3;


export interface RentalServiceOptions {
  hosts: RentalHost[];
  ledger: Ledger;
  log: Logger;
  /** Renter ports per rental, from each host's renter pool. */
  renterPortsPerRental: number;
  /** Disk of a rental whose request names none. */
  defaultDiskBytes: number;
  /** Memory kept back from rentals on every host [1 GiB]. */
  memoryReserveBytes?: number;
  /** Warm workloads kept per host [1]; 0 turns them off. */
  warmPerHost?: number;
  /** How long a host's engine may take to answer a question [2000 ms]. */
  answerBoundMs?: number;
  /** Views older than this are read again before a decision [1000 ms]. */
  freshMs?: number;
  /** How often every host is looked at in the background [2000 ms]. */
  recheckMs?: number;
  passwordLength?: number;
  credentialsVersion?: number;
}

/** A domain answer: status false with a reason the renter can read. */
export interface Outcome {
  status: boolean;
  error?: string;
}

export type AllocationResult =
  | { status: true; credentials: AllocateCredentials; hostKeys: string[]; port: number; ports: Record<string, number>; host?: string }
  | { status: false; error: string };

export interface AllocationRequest {
  /** Rental length in days (fractions allowed). */
  timelineDays: number;
  device: DeviceRequirement;
  /** The renter's RSA public key (PEM): the holder. */
  publicKeyPem: string;
  /** The renter's OpenSSH public key line, '' for none. */
  sshKey: string;
  /** Extra Dockerfile commands, '' for none. */
  dockerfile: string;
  /** Aborts a long build when the requester is gone. */
  signal?: AbortSignal;
}

export function createRentalService(options: RentalServiceOptions) {
  const log = options.log.child({ component: 'rentals' });
  const { ledger } = options;
  if (options.hosts.length === 0) throw new Error('the rental service needs at least one host');
  const reserve = options.memoryReserveBytes ?? 1024 ** 3;
  const boundMs = options.answerBoundMs ?? 2000;
  const freshMs = options.freshMs ?? 1000;
  const queues = rentalQueues();
  const views = hostViews(options.hosts, boundMs,
    (view) => {
      log.info({ host: view.host.name }, 'host answers again: reconciling its rentals');
      void queues.host(view.host.name, async () => {
        // A host that was down at start is started now: its sweep and its base image.
        if (!startedHosts.has(view.host.name)) await startHost(view);
        await reconcile(view);
      }).catch((err: unknown) => log.warn({ host: view.host.name, err: (err as Error).message }, 'reconcile failed'));
    },
    (view, error) => log.warn({ host: view.host.name, err: error }, 'host is not answering: its rentals wait, the others keep renting'));
  const warm = warmKeeper({ views, ledger, log, perHost: options.warmPerHost ?? 1, renterPortsPerRental: options.renterPortsPerRental });
  const actions = rentalActions(ledger, log);
  const notices = rentalNotices({ ledger, views, log, inQueue: (id, task) => queues.rental(id, task) });
  const expiry = expirySchedule(() => ledger.all(), (due) => {
    for (const rental of due) void end(rental.id, 'deadline reached').catch(() => undefined);
  });
  let recheck: NodeJS.Timeout | undefined;
  let stopped = true;
  const startedHosts = new Set<string>();

  /** A host's start-up sweep of what no rental holds, and its base image build. */
  async function startHost(view: HostView): Promise<void> {
    const keep = new Set(ledger.onHost(view.host.name).map((r) => r.id));
    await view.host.runtime.start(keep).catch((err: unknown) => log.warn({ host: view.host.name, err: (err as Error).message }, 'host start-up sweep failed'));
    startedHosts.add(view.host.name);
    void view.host.runtime.baseImageReady().then(() => warm.refill(), () => undefined);
  }

  const viewOf = (rental: Rental): HostView | undefined => views.get(rental.host);
  /** Why a host is not answering, in one line that names it. */
  const notAnswering = (view: HostView, detail = view.error ?? 'no answer') =>
    detail.startsWith(`host ${view.host.name} `) ? detail : `host ${view.host.name} is not answering: ${detail}`;
  const hostName = (view: HostView) => view.host.name;

  async function reconcile(view: HostView): Promise<void> {
    await reconcileHost(view, ledger, log, (rental, why) => end(rental.id, why));
    expiry.rearm();
    warm.refill();
  }

  /** Ends a rental in its own queue. */
  function end(id: string, why: string): Promise<void> {
    return queues.rental(id, () => endNow(id, why));
  }

  /** Workload gone, then the ledger forgets it; called from within the rental's queue. */
  async function endNow(id: string, why: string): Promise<void> {
    {
      const rental = ledger.get(id);
      if (!rental) return;
      const view = viewOf(rental);
      ledger.mark({ ...rental, phase: 'ending' });
      try {
        if (rental.workload && view) await view.host.runtime.destroy(rental.workload);
      } catch (err) {
        // Still held: it is released again once its host answers (reconcile), or at the next expiry pass.
        ledger.mark({ ...rental, phase: 'live' });
        log.error({ rental: id, err: (err as Error).message }, 'the rental could not be removed now; it stays held');
        setTimeout(() => expiry.retry(id), 30_000).unref();
        throw err;
      }
      ledger.drop(id);
      log.info({ rental: id, host: rental.host, role: rental.role, why }, 'rental ended');
      expiry.rearm();
      warm.refill();
    }
  }

  /** Refuses (503) when no host can take a rental for a reason of its own (the base image, the host's isolation). */
  function unavailable(candidates: readonly HostView[]): void {
    if (candidates.some((v) => v.host.runtime.baseImage().state === 'ready')) return;
    const first = views.all()[0]!.host.runtime;
    const base = first.baseImage();
    if (base.state === 'failed') void first.baseImageReady().catch(() => undefined);
    throw new UnavailableError(baseImageNotReady(base.state === 'failed' ? base.error : undefined));
  }

  /** Hosts that may take a rental now, and how many have no SSH port left. */
  function candidates(production: boolean): { views: HostView[]; full: number; notReady: string[] } {
    const out: HostView[] = [];
    const notReady: string[] = [];
    let full = 0;
    for (const view of views.all()) {
      const ready = view.host.ready?.();
      if (ready && !ready.applied) { notReady.push(`${view.host.name}: ${ready.error ?? 'not ready'}`); continue; }
      if (view.host.runtime.baseImage().state !== 'ready') { full += 1; continue; }
      if (!warm.hasPort(view, production)) { full += 1; continue; }
      out.push(view);
    }
    return { views: out, full, notReady };
  }

  function inventories(list: readonly HostView[]) {
    return list.map((v) => hostInventory(hostName(v), v.up, v.facts, ledger.onHost(hostName(v)), reserve));
  }

  function requestOf(device: DeviceRequirement) {
    const req = placementRequest(device);
    return { ...req, diskBytes: req.diskBytes || defaultDiskBytes(views.all().map((v) => v.facts), req.cores, options.defaultDiskBytes) };
  }



  function refusal(reason: string, full: number, notReady: string[]): string {
    if (full === views.all().length) return RENTED_OUT;
    const parts = [reason];
    if (full > 0) parts.push(`${full} host${full === 1 ? ' has' : 's have'} no free SSH port, or no base image yet`);
    if (notReady.length > 0) parts.push(`cannot rent now: ${notReady.join('; ')}`);
    return parts.length === 1 ? reason : `${reason} (${parts.slice(1).join('; ')})`;
  }

  /** The isolation a single host lacks is a 503, as it always was: nothing else could answer. */
  function isolationUnavailable(notReady: string[]): void {
    if (views.all().length === 1 && notReady.length === 1) throw new UnavailableError(`this host cannot rent now: ${notReady[0]!.replace(/^[^:]+: /, '')}`);
  }

  /** The holder's rental and its host, or the refusal. */
  function holderRental(pem: string): { rental: Rental; view: HostView } | Outcome {
    const rental = ledger.byHolder(holderDigest(pem));
    if (!rental) return { status: false, error: ledger.all().length > 0 ? NOT_HOLDER : NO_ALLOCATION };
    return { rental, view: viewOf(rental)! };
  }

  /** A holder's operation on its rental, in the rental's queue; a host that does not answer answers for itself. */
  async function onHolder(pem: string, act: (rental: Rental, view: HostView) => Promise<Outcome>): Promise<Outcome> {
    const found = holderRental(pem);
    if (!('rental' in found)) return found;
    try {
      const outcome = await queues.rental(found.rental.id, async () => {
        const current = ledger.get(found.rental.id);
        if (!current || current.phase === 'ending') return { status: false, error: NO_ALLOCATION };
        if (current.phase !== 'live') return { status: false, error: 'the rental is still being made' };
        if (!found.view.up) return { status: false, error: notAnswering(found.view) };
        return act(current, found.view);
      });
      return outcome;
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof HostNotAnsweringError || err instanceof UnavailableError) return { status: false, error: notAnswering(found.view, message) };
      return { status: false, error: dockerMessage(err) };
    }
  }

  async function allocate(request: AllocationRequest): Promise<AllocationResult> {
    if (stopped) throw new UnavailableError('the miner is stopping');
    const holder = holderDigest(request.publicKeyPem);
    if (ledger.byHolder(holder)) return { status: false, error: ALREADY_HOLDS };
    await views.refresh(freshMs);
    // From here to the reservation nothing is awaited: concurrent requests see each other's grants.
    if (ledger.byHolder(holder)) return { status: false, error: ALREADY_HOLDS };
    const req = requestOf(request.device);
    const { views: open, full, notReady } = candidates(!req.testing);
    isolationUnavailable(notReady);
    unavailable(views.all());
    const placement = place(inventories(open), req);
    if (!placement.ok) return { status: false, error: refusal(placement.reason, full, notReady) };
    const view = views.get(placement.host)!;
    const role = req.testing ? 'test' as const : 'rental' as const;
    const shape = { role, gpusRequested: req.gpus, dockerfile: request.dockerfile };
    // A production rental also takes the port of a test rental when no other is free: tests give way.
    const endTesting = [...placement.endTesting];
    let ports = warm.ports(view, shape, portsInUse(endTesting.map((id) => ledger.get(id)!)));
    const spare = ports || role === 'test' ? undefined : ledger.onHost(hostName(view)).find((r) => r.role === 'test' && r.phase === 'live' && !endTesting.includes(r.id));
    if (spare) {
      endTesting.push(spare.id);
      ports = warm.ports(view, shape, portsInUse(endTesting.map((id) => ledger.get(id)!)));
    }
    if (!ports) return { status: false, error: refusal('no free port', full + 1, notReady) };
    for (const id of endTesting) ledger.mark({ ...ledger.get(id)!, phase: 'ending' });
    const id = ports.from?.rentalId ?? randomBytes(8).toString('hex');
    const createdAt = Date.now();
    const rental: Rental = {
      version: 2, id, holderKey: Buffer.from(request.publicKeyPem, 'utf8').toString('base64'), role, phase: 'starting', host: hostName(view),
      grant: { cpuset: placement.cpuset, gpus: placement.gpus, sshPort: ports.sshPort, renterPorts: ports.renterPorts, memoryBytes: req.memoryBytes, diskBytes: req.diskBytes },
      createdAt, deadline: createdAt + request.timelineDays * DAY_MS, hostKeys: [], keys: request.sshKey ? { user: request.sshKey } : {},
    };
    ledger.reserve(rental);
    const granted = ports;
    return queues.rental(id, () => make(rental, view, endTesting, granted, request));
  }

  async function make(rental: Rental, view: HostView, endTesting: string[], ports: RentalPorts, request: AllocationRequest): Promise<AllocationResult> {
    const started = Date.now();
    const runtime = view.host.runtime;
    const spec: RentalSpec = { id: rental.id, role: rental.role, grant: rental.grant, gpusRequested: requestOf(request.device).gpus, dockerfile: request.dockerfile, deadline: rental.deadline };
    const password = generatePassword(options.passwordLength);
    try {
      await Promise.all(endTesting.map((id) => end(id, 'a production rental needs its room')));
      await ports.evicted;
      const made = await runtime.create(spec, { password, keys: rental.keys }, ports.from, request.signal);
      const live: Rental = { ...rental, phase: 'live', workload: made.workload, hostKeys: made.hostKeys };
      ledger.commit(live);
      expiry.rearm();
      log.info({ rental: rental.id, host: rental.host, role: rental.role, cpuset: rental.grant.cpuset, port: rental.grant.sshPort, warm: made.warm, ms: Date.now() - started }, 'rental made');
      return {
        status: true,
        credentials: { username: 'root', password, port: rental.grant.sshPort, version: options.credentialsVersion ?? 1 },
        hostKeys: made.hostKeys, port: rental.grant.sshPort, ports: rental.grant.renterPorts,
        ...(view.host.address !== undefined ? { host: view.host.address } : {}),
      };
    } catch (err) {
      ledger.drop(rental.id);
      if (err instanceof UnavailableError || err instanceof HostNotAnsweringError) throw new UnavailableError((err as Error).message);
      const message = dockerMessage(err);
      if (!(err instanceof RefusalError)) log.error({ rental: rental.id, err: message }, 'rental not made');
      return { status: false, error: err instanceof RefusalError ? message : `allocation failed: ${message}` };
    } finally {
      warm.refill();
    }
  }

  return {
    async start(): Promise<void> {
      stopped = false;
      const { loaded, unreadable } = ledger.load();
      for (const problem of unreadable) log.error({ problem }, 'unreadable rental record set aside; its container will be removed');
      // At start a busy engine is given its time to say what it has (`docker info` can take seconds).
      await views.refresh(0, START_FACTS_BOUND_MS);
      await Promise.all(views.all().map(async (view) => {
        if (!view.up) { log.warn({ host: hostName(view), err: view.error }, 'host not answering at start: reconciled once it answers'); return; }
        await startHost(view);
        await queues.host(hostName(view), () => reconcile(view)).catch((err: unknown) => log.warn({ host: hostName(view), err: (err as Error).message }, 'reconcile failed'));
      }));
      const outside = views.all().flatMap((v) => portsOutsidePool(ledger.onHost(hostName(v)), v.host.sshPorts).map((port) => `${hostName(v)}:${port}`));
      if (outside.length > 0) log.warn({ ports: outside }, 'rentals outside today\'s SSH port pool are kept until they end');
      log.info({ rentals: loaded }, 'ledger read');
      expiry.rearm();
      notices.start();
      recheck = setInterval(() => {
        void views.refresh(0).then(() => warm.refill());
        for (const view of views.all()) {
          if (view.up && view.host.runtime.baseImage().state === 'failed') void view.host.runtime.baseImageReady().catch(() => undefined);
        }
      }, options.recheckMs ?? 2000);
      recheck.unref();
    },

    async stop(): Promise<void> {
      stopped = true;
      if (recheck) clearInterval(recheck);
      expiry.cancel();
      notices.stop();
      await Promise.all(views.all().map((v) => v.host.runtime.stop().catch(() => undefined)));
    },

    async checkFree(device: DeviceRequirement): Promise<Outcome> {
      await views.refresh(freshMs);
      const req = requestOf(device);
      const { views: open, full, notReady } = candidates(!req.testing);
      isolationUnavailable(notReady);
      unavailable(views.all());
      const answer = checkFits(inventories(open), req);
      return answer.fits ? { status: true } : { status: false, error: refusal(answer.reason ?? 'does not fit', full, notReady) };
    },

    /** From the ledger, and the workload's state read within the bound. */
    async checkHolder(pem: string): Promise<Outcome> {
      const found = holderRental(pem);
      if (!('rental' in found)) return found;
      const { rental, view } = found;
      await views.refresh(freshMs);
      if (rental.phase !== 'live') return { status: false, error: rental.phase === 'ending' ? 'the rental is ending' : 'the rental is still being made' };
      if (!view.up) return { status: false, error: notAnswering(view) };
      try {
        const health = await bounded(view.host.runtime.health(rental.workload!), boundMs, hostName(view));
        return health.ok ? { status: true } : { status: false, error: `the container is not running: ${health.reason}` };
      } catch (err) {
        return { status: false, error: notAnswering(view, (err as Error).message) };
      }
    },

    allocate,

    /** The first SSH port of the first host: a refusal's `port` when the key holds no rental. */
    sshPort: options.hosts[0]!.sshPorts.ports[0] ?? 0,

    /** The SSH port of the holder's rental (the reply's `port`), read before an operation may end it. */
    holderPort(pem: string): number | undefined {
      return ledger.byHolder(holderDigest(pem))?.grant.sshPort;
    },

    deallocate: (pem: string) => onHolder(pem, async (rental) => {
      await endNow(rental.id, 'de-allocated by the holder');
      return { status: true };
    }),

    exchangeKey: (pem: string, keyType: KeyType, sshKey: string) => onHolder(pem, (rental, view) => actions.exchangeKey(rental, view, keyType, sshKey)),
    restart: (pem: string) => onHolder(pem, (rental, view) => actions.restart(rental, view)),
    pause: (pem: string) => onHolder(pem, (rental, view) => actions.pause(rental, view)),
    unpause: (pem: string) => onHolder(pem, (rental, view) => actions.unpause(rental, view)),

    state: () => rentalsState(views, ledger, reserve),
    snapshot: () => hostSnapshots(views, ledger, reserve),
    /** The status page's rentals: the ledger, each container's state read within the bound. */
    rentals: rentalViews(views, ledger, boundMs),
    /** state() plus every rental's container as its host says now (a host down: unreachable). */
    async health() {
      const rentals = await rentalViews(views, ledger, boundMs)();
      return { ...rentalsState(views, ledger, reserve), rentals };
    },
    /** Resolves when the first host's base image is ready. */
    baseImageReady: () => views.all()[0]!.host.runtime.baseImageReady(),
    views,
    ledger,
    warm,
    notices,
    /** Reconciles every host that answers again now (its engine was restarted). */
    async reconcileAgain(): Promise<void> {
      await views.refresh(0);
      await Promise.all(views.all().filter((v) => v.up).map((v) => queues.host(hostName(v), () => reconcile(v))));
    },
    end,
  };

}

export type RentalService = ReturnType<typeof createRentalService>;

