// The Docker daemon that runs rentals: a daemon of the miner's own beside the system's, with
// its data root on the btrfs pool (so disk sizes are enforced), its own socket, exec root,
// containerd namespace and default bridge. The system daemon, and every image and container
// a user keeps there, is never touched. It runs with --iptables=false: the miner's own
// firewall rules (firewall.ts) isolate the rentals, so no daemon's start-up can rewrite them.
// It remaps users (--userns-remap): root in a rental is an unprivileged id on the host.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { DISK_QUOTA_LABEL, RENTAL_BRIDGE_PREFIX } from '../containers/options.js';
import { seccompProfilePath } from '../containers/seccomp.js';
import { pingDaemon, pingSocket } from './daemon-probe.js';
import { ensurePool, PoolError, type PoolPaths } from './pool.js';
import { holdsOwnContainers, type QuotaMode } from './pool-quota.js';
import { ensureRentalUser, RENTAL_USER } from './rental-user.js';

const run = promisify(execFile);

export interface RentalHostLayout {
  pool: PoolPaths;
  /** Docker's data root: on the pool. Remapped, Docker keeps its files in `<uid>.<gid>` below it (`docker info`'s DockerRootDir). */
  dataRoot: string;
  /** The user whose subordinate ids rentals' users map to (--userns-remap). */
  remapUser: string;
  execRoot: string;
  socket: string;
  pidfile: string;
  /** The daemon's default bridge; rentals never use it (each gets its own network). */
  bridge: string;
  bridgeAddress: string;
  /** Where the per-rental networks' subnets come from, and their size. */
  addressPool: string;
  subnetPrefix: number;
  containerdNamespace: string;
  logFile: string;
  /** Present while someone restarts the daemon on purpose, so a keeper does not start a second one. */
  restartMarker: string;
}

export const DEFAULT_STATE_DIR = '/var/lib/compute-miner';
export const DEFAULT_RUN_DIR = '/run/compute-miner';
/** Rental subnets: 4096 networks of /28 (11 addresses each, one container needs one). */
export const RENTAL_ADDRESS_POOL = '10.218.0.0/16';
export const RENTAL_SUBNET_PREFIX = 28;

/** What may differ for a second rental daemon on one machine (tests run a private one beside the shared). */
export interface RentalLayoutOverrides {
  runDir?: string;
  bridge?: string;
  bridgeAddress?: string;
  addressPool?: string;
  containerdNamespace?: string;
}

/**
 * The environment variable that names another rental daemon's layout, as JSON of
 * RentalLayoutOverrides. Development and tests only: production has one rental daemon.
 */
export const RENTAL_DAEMON_ENV = 'COMPUTE_MINER_RENTAL_DAEMON';

const cidr = (what: string) => z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, `${what} must be an IPv4 address/prefix like 10.219.0.0/16`)
  .refine((v) => v.split(/[./]/).every((n, i) => Number(n) <= (i === 4 ? 32 : 255)), `${what}: a number out of range`);
const overridesSchema = z.object({
  runDir: z.string().refine(isAbsolute, 'runDir must be an absolute path'),
  // A Linux interface name; never the rental bridges' prefix (the firewall matches that prefix).
  bridge: z.string().regex(/^[a-z][a-z0-9]{1,14}$/, 'bridge must be 2-15 lower-case letters and digits')
    .refine((b) => !b.startsWith(RENTAL_BRIDGE_PREFIX), `bridge must not start with ${RENTAL_BRIDGE_PREFIX} (the rental bridges' prefix)`),
  bridgeAddress: cidr('bridgeAddress'),
  addressPool: cidr('addressPool'),
  containerdNamespace: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'containerdNamespace must be lower-case letters, digits, ".", "_", "-"'),
}).partial().strict();

/** Reads RENTAL_DAEMON_ENV's JSON; throws a one-line error naming the variable. Pure. */
export function parseRentalLayoutOverrides(text: string | undefined): RentalLayoutOverrides {
  if (text === undefined || text.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${RENTAL_DAEMON_ENV}: not JSON (${(err as Error).message})`);
  }
  const parsed = overridesSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${RENTAL_DAEMON_ENV}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  return parsed.data;
}

/** The layout of the rental daemon this process uses: the default one, or RENTAL_DAEMON_ENV's. */
export function rentalHostLayoutFromEnv(stateDir = DEFAULT_STATE_DIR, env: Record<string, string | undefined> = process.env): RentalHostLayout {
  return rentalHostLayout(stateDir, undefined, parseRentalLayoutOverrides(env[RENTAL_DAEMON_ENV]));
}

/** Where everything of the rental daemon lives. Pure. */
export function rentalHostLayout(stateDir = DEFAULT_STATE_DIR, runDir = DEFAULT_RUN_DIR, over: RentalLayoutOverrides = {}): RentalHostLayout {
  const mountPoint = join(stateDir, 'pool');
  runDir = over.runDir ?? runDir;
  return {
    pool: { image: join(stateDir, 'pool.img'), mountPoint },
    dataRoot: join(mountPoint, 'docker'),
    remapUser: RENTAL_USER,
    execRoot: join(runDir, 'exec'),
    socket: join(runDir, 'docker.sock'),
    pidfile: join(runDir, 'dockerd.pid'),
    bridge: over.bridge ?? 'cm0',
    bridgeAddress: over.bridgeAddress ?? '10.217.0.1/24',
    addressPool: over.addressPool ?? RENTAL_ADDRESS_POOL,
    subnetPrefix: RENTAL_SUBNET_PREFIX,
    containerdNamespace: over.containerdNamespace ?? 'compute-miner',
    logFile: join(stateDir, 'rental-dockerd.log'),
    restartMarker: join(runDir, 'dockerd.restarting'),
  };
}

/**
 * The rental daemon's command line. Pure. `remap` false only for a data root that still holds a
 * daemon's containers from before --userns-remap (they would be invisible to a remapped one).
 */
export function rentalDockerdArgs(l: RentalHostLayout, quota: QuotaMode = 'full', remap = true): string[] {
  return [
    // How the pool counts disk: whoever sizes a container's quota reads it from `docker info`.
    '--label', `${DISK_QUOTA_LABEL}=${quota}`,
    '-H', `unix://${l.socket}`,
    '--data-root', l.dataRoot,
    '--exec-root', l.execRoot,
    '--pidfile', l.pidfile,
    '--storage-driver', 'btrfs',
    // A rental's root is the first id of this user's subordinate range on the host, not root.
    ...(remap ? [`--userns-remap=${l.remapUser}`] : []),
    `--bridge=${l.bridge}`,
    '--default-address-pool', `base=${l.addressPool},size=${l.subnetPrefix}`,
    // The miner's firewall owns isolation and masquerading; forwarding stays on.
    '--iptables=false', '--ip-masq=false', '--ip-forward=true',
    '--containerd-namespace', l.containerdNamespace,
    '--containerd-plugins-namespace', `${l.containerdNamespace}-plugins`,
    // Containers keep running while the daemon is down (a crash, a restart for an upgrade).
    '--live-restore',
    // What a container gets when it asks for nothing: a renter's build steps. Rentals set both
    // themselves; the builds' RUN containers can be given them only here.
    '--seccomp-profile', seccompProfilePath(),
    '--no-new-privileges',
    // Bounded logs even for a container created without its own log options.
    '--log-driver', 'json-file', '--log-opt', 'max-size=10m', '--log-opt', 'max-file=2',
  ];
}

const alive = (pid: number) => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

function pidIn(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

/** The rental daemon's process id, when its pid file names a live dockerd serving this socket (never a recycled pid). */
export function rentalDockerdPid(layout: RentalHostLayout): number | null {
  const pid = pidIn(layout.pidfile);
  if (pid === null) return null;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[0]?.endsWith('dockerd') && argv.includes(`unix://${layout.socket}`) ? pid : null;
  } catch {
    return null;
  }
}

/** Whether a restart on purpose (restartRentalDockerd) is under way, begun less than `withinMs` ago. */
export function restartUnderWay(layout: RentalHostLayout, withinMs = RENTAL_DOCKERD_START_TIMEOUT_MS + 30_000): boolean {
  const began = pidIn(layout.restartMarker);
  return began !== null && Date.now() - began * 1000 < withinMs;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

export const RENTAL_DOCKERD_STOP_TIMEOUT_MS = 30_000;
/** A daemon that already stopped answering gets this long to stop before SIGKILL. */
export const HUNG_DOCKERD_STOP_TIMEOUT_MS = 5000;

/**
 * Stops the rental daemon: SIGTERM, SIGKILL after `graceMs`, then waits for its containerd (which
 * outlives a killed dockerd for a moment and would keep the next one from starting). With live
 * restore the containers keep running. Returns whether a daemon was running.
 */
export async function stopRentalDockerd(layout: RentalHostLayout, graceMs = RENTAL_DOCKERD_STOP_TIMEOUT_MS): Promise<boolean> {
  const pid = rentalDockerdPid(layout);
  if (pid !== null) {
    process.kill(pid, 'SIGTERM');
    process.kill(pid, 'SIGCONT'); // a stopped daemon would hold SIGTERM until then
    if (!(await waitGone(pid, graceMs))) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
      await waitGone(pid, 5000);
    }
  }
  const containerd = pidIn(join(layout.execRoot, 'containerd', 'containerd.pid'));
  if (containerd !== null && alive(containerd) && !(await waitGone(containerd, 3000))) {
    try { process.kill(containerd, 'SIGKILL'); } catch { /* gone meanwhile */ }
    await waitGone(containerd, 5000);
  }
  return pid !== null;
}

/**
 * Restarts the rental daemon on purpose (an upgrade of Docker, a daemon started without live
 * restore): stopped, then started as at start-up. A marker tells a running miner's keeper
 * that this restart is under way.
 */
export async function restartRentalDockerd(layout: RentalHostLayout, opts: { poolSizeBytes?: number; onStep?: (msg: string) => void } = {}): Promise<RentalDaemon> {
  mkdirSync(join(layout.restartMarker, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(layout.restartMarker, `${Math.floor(Date.now() / 1000)}\n`);
  try {
    if (await stopRentalDockerd(layout)) opts.onStep?.(`stopped the rental Docker daemon on unix://${layout.socket}`);
    return await ensureRentalDockerd(layout, opts);
  } finally {
    rmSync(layout.restartMarker, { force: true });
  }
}

/**
 * Adds o+x to `dir` and its parents up to `top`: the remapped root must reach its own directory
 * below the data root (Docker refuses to start otherwise). Nothing becomes listable or readable.
 */
function searchableByAll(dir: string, top: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  for (let d = dir; ; d = dirname(d)) {
    const mode = statSync(d).mode & 0o7777;
    if (!(mode & 0o001)) chmodSync(d, mode | 0o001);
    if (d === top || d === dirname(d)) break;
  }
}

async function ensureBridge(name: string, address: string): Promise<void> {
  const exists = await run('ip', ['link', 'show', name]).then(() => true, () => false);
  if (!exists) await run('ip', ['link', 'add', 'name', name, 'type', 'bridge']);
  const addrs = (await run('ip', ['-o', 'addr', 'show', 'dev', name])).stdout;
  if (!addrs.includes(` ${address} `)) await run('ip', ['addr', 'add', address, 'dev', name]).catch(() => undefined);
  await run('ip', ['link', 'set', name, 'up']);
}

export interface RentalDaemon {
  socket: string;
  /** unix:///… as /health reports it. */
  endpoint: string;
  started: boolean;
  /** Whether it remaps users (false: started by a release before --userns-remap). */
  remapped: boolean;
}

export const RENTAL_DOCKERD_START_TIMEOUT_MS = 60_000;

/**
 * Makes the rental daemon answer: the pool mounted, its bridge up, dockerd started detached
 * (it outlives the miner, so rentals survive the miner's restarts). Idempotent.
 */
export async function ensureRentalDockerd(layout: RentalHostLayout, opts: { poolSizeBytes?: number; onStep?: (msg: string) => void } = {}): Promise<RentalDaemon> {
  const endpoint = `unix://${layout.socket}`;
  // A daemon that answers its ping is alive, however long a busy one takes for /info (seconds
  // under load): it is never taken for a dead one and a second daemon started beside it.
  const alive = await pingDaemon(layout.socket, 2000);
  const up = alive ? await pingSocket(layout.socket, 30_000) : await pingSocket(layout.socket);
  if (alive && !up.ok) throw new PoolError(`${endpoint} answers its ping but not /info within 30 s: the rental daemon is overloaded or stuck`);
  if (up.ok) {
    if (up.driver !== 'btrfs') throw new PoolError(`${endpoint} answers with the ${up.driver} storage driver, not btrfs: it is not the rental daemon`);
    return { socket: layout.socket, endpoint, started: false, remapped: up.remapped === true };
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new PoolError('the rental storage pool needs root (a loop-mounted btrfs image and a Docker daemon of its own)');
  }
  const pool = await ensurePool(layout.pool, opts.poolSizeBytes, layout.dataRoot);
  opts.onStep?.(`${pool.created ? 'created' : 'mounted'} the storage pool ${layout.pool.image} (${(pool.sizeBytes / 1024 ** 3).toFixed(1)} GiB, ${pool.quota} quotas)`);
  if (pool.quotaNote) opts.onStep?.(pool.quotaNote);
  try {
    await ensureBridge(layout.bridge, layout.bridgeAddress);
  } catch (err) {
    throw new PoolError(`the rental daemon's bridge ${layout.bridge}: ${(err as Error).message}`);
  }
  // Containers of a daemon from before user namespaces (after a crash or reboot): started as it
  // was, or they would be lost to it; the keeper switches it once only standbys remain.
  const remap = !holdsOwnContainers(layout.dataRoot);
  if (remap) {
    try {
      await ensureRentalUser(layout.remapUser);
    } catch (err) {
      throw new PoolError(`the rental daemon's user ${layout.remapUser}: ${(err as Error).message}`);
    }
    searchableByAll(layout.dataRoot, dirname(layout.pool.image));
  } else {
    opts.onStep?.(`${layout.dataRoot} holds containers of a daemon without user namespaces: started without them, switched once only standbys remain`);
  }
  mkdirSync(layout.execRoot, { recursive: true, mode: 0o700 });
  const log = openSync(layout.logFile, 'a');
  const child = spawn('dockerd', rentalDockerdArgs(layout, pool.quota, remap), { detached: true, stdio: ['ignore', log, log] });
  closeSync(log); // the daemon has its own copy; a keeper that restarts it often leaks none
  let exited: string | null = null;
  child.on('error', (err) => { exited = err.message; });
  child.on('exit', (code, signal) => { exited = `exited with ${code ?? signal}`; });
  child.unref();
  const deadline = Date.now() + RENTAL_DOCKERD_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await pingSocket(layout.socket, 1000)).ok) {
      opts.onStep?.(`started the rental Docker daemon on ${endpoint}`);
      return { socket: layout.socket, endpoint, started: true, remapped: remap };
    }
    if (exited) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = readFileSync(layout.logFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
  throw new PoolError(`the rental Docker daemon did not start (${exited ?? 'no answer within 60 s'}): ${tail}`);
}
