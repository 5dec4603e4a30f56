// The Docker daemon that runs rentals: a daemon of the miner's own beside the system's, with
// its data root on the btrfs pool (so disk sizes are enforced), its own socket, exec root,
// containerd namespace and default bridge. The system daemon, and every image and container
// a user keeps there, is never touched. It runs with --iptables=false: the miner's own
// firewall rules (firewall.ts) isolate the rentals, so no daemon's start-up can rewrite them.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensurePool, PoolError, type PoolPaths } from './pool.js';

const run = promisify(execFile);

export interface RentalHostLayout {
  pool: PoolPaths;
  /** Docker's data root: on the pool. */
  dataRoot: string;
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
}

export const DEFAULT_STATE_DIR = '/var/lib/compute-miner';
export const DEFAULT_RUN_DIR = '/run/compute-miner';
/** Rental subnets: 4096 networks of /28 (11 addresses each, one container needs one). */
export const RENTAL_ADDRESS_POOL = '10.218.0.0/16';
export const RENTAL_SUBNET_PREFIX = 28;

/** Where everything of the rental daemon lives. Pure. */
export function rentalHostLayout(stateDir = DEFAULT_STATE_DIR, runDir = DEFAULT_RUN_DIR): RentalHostLayout {
  const mountPoint = join(stateDir, 'pool');
  return {
    pool: { image: join(stateDir, 'pool.img'), mountPoint },
    dataRoot: join(mountPoint, 'docker'),
    execRoot: join(runDir, 'exec'),
    socket: join(runDir, 'docker.sock'),
    pidfile: join(runDir, 'dockerd.pid'),
    bridge: 'cm0',
    bridgeAddress: '10.217.0.1/24',
    addressPool: RENTAL_ADDRESS_POOL,
    subnetPrefix: RENTAL_SUBNET_PREFIX,
    containerdNamespace: 'compute-miner',
    logFile: join(stateDir, 'rental-dockerd.log'),
  };
}

/** The rental daemon's command line. Pure. */
export function rentalDockerdArgs(l: RentalHostLayout): string[] {
  return [
    '-H', `unix://${l.socket}`,
    '--data-root', l.dataRoot,
    '--exec-root', l.execRoot,
    '--pidfile', l.pidfile,
    '--storage-driver', 'btrfs',
    `--bridge=${l.bridge}`,
    '--default-address-pool', `base=${l.addressPool},size=${l.subnetPrefix}`,
    // The miner's firewall owns isolation and masquerading; forwarding stays on.
    '--iptables=false', '--ip-masq=false', '--ip-forward=true',
    '--containerd-namespace', l.containerdNamespace,
    '--containerd-plugins-namespace', `${l.containerdNamespace}-plugins`,
    // Bounded logs even for a container created without its own log options.
    '--log-driver', 'json-file', '--log-opt', 'max-size=10m', '--log-opt', 'max-file=2',
  ];
}

export function pingSocket(socket: string, timeoutMs = 2000): Promise<{ ok: boolean; driver?: string }> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/info', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; });
      res.on('end', () => {
        try { resolve({ ok: res.statusCode === 200, driver: (JSON.parse(body) as { Driver?: string }).Driver }); } catch { resolve({ ok: false }); }
      });
    });
    req.on('error', () => resolve({ ok: false }));
    req.on('timeout', () => { req.destroy(); resolve({ ok: false }); });
    req.end();
  });
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
}

export const RENTAL_DOCKERD_START_TIMEOUT_MS = 60_000;

/**
 * Makes the rental daemon answer: the pool mounted, its bridge up, dockerd started detached
 * (it outlives the miner, so rentals survive the miner's restarts). Idempotent.
 */
export async function ensureRentalDockerd(layout: RentalHostLayout, opts: { poolSizeBytes?: number; onStep?: (msg: string) => void } = {}): Promise<RentalDaemon> {
  const endpoint = `unix://${layout.socket}`;
  const up = await pingSocket(layout.socket);
  if (up.ok) {
    if (up.driver !== 'btrfs') throw new PoolError(`${endpoint} answers with the ${up.driver} storage driver, not btrfs: it is not the rental daemon`);
    return { socket: layout.socket, endpoint, started: false };
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new PoolError('the rental storage pool needs root (a loop-mounted btrfs image and a Docker daemon of its own)');
  }
  const pool = await ensurePool(layout.pool, opts.poolSizeBytes);
  opts.onStep?.(`${pool.created ? 'created' : 'mounted'} the storage pool ${layout.pool.image} (${(pool.sizeBytes / 1024 ** 3).toFixed(1)} GiB)`);
  try {
    await ensureBridge(layout.bridge, layout.bridgeAddress);
  } catch (err) {
    throw new PoolError(`the rental daemon's bridge ${layout.bridge}: ${(err as Error).message}`);
  }
  mkdirSync(layout.execRoot, { recursive: true, mode: 0o700 });
  const log = openSync(layout.logFile, 'a');
  const child = spawn('dockerd', rentalDockerdArgs(layout), { detached: true, stdio: ['ignore', log, log] });
  let exited: string | null = null;
  child.on('error', (err) => { exited = err.message; });
  child.on('exit', (code, signal) => { exited = `exited with ${code ?? signal}`; });
  child.unref();
  const deadline = Date.now() + RENTAL_DOCKERD_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await pingSocket(layout.socket, 1000)).ok) {
      opts.onStep?.(`started the rental Docker daemon on ${endpoint}`);
      return { socket: layout.socket, endpoint, started: true };
    }
    if (exited) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = readFileSync(layout.logFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
  throw new PoolError(`the rental Docker daemon did not start (${exited ?? 'no answer within 60 s'}): ${tail}`);
}
