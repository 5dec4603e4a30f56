// Test helpers for the rental service on the real Docker daemon: a per-run identity
// (name prefix, owner hotkey, run label, data dir, free ports) whose cleanup removes every
// container and image the run made, and an SSH client to log in to rented containers.
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { generateHotkey, type Hotkey } from '../../protocol/index.js';
import { composeRentals, type RentalSetup, type RuntimeCommon } from '../../src/fleet/compose.js';
import type { RentalService } from '../../src/rentals/service.js';
import { parsePortPool } from '../../src/resources/ports.js';
import { silentLogger } from '../../src/log.js';
import { sshRun as sshLogin } from '../../src/validator/ssh-login.js';
import { rentalHostLayoutFromEnv } from '../../src/host/rental-dockerd.js';

export const RUN_LABEL = 'compute-miner.test-run';

/** The rental Docker daemon the product uses (on the btrfs storage pool): the default one, or COMPUTE_MINER_RENTAL_DAEMON's. */
export const RENTAL_SOCKET = rentalHostLayoutFromEnv().socket;

/** Fails (never skips) when the daemon does not answer: in CI and here alike. */
export async function requireDocker(socketPath = RENTAL_SOCKET): Promise<Dockerode> {
  const docker = new Dockerode({ socketPath });
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(`the Docker daemon does not answer on ${socketPath} (${(err as Error).message}); run "node scripts/bootstrap.mjs --for test" as root`);
  }
  return docker;
}

export interface TestRun {
  id: string;
  namePrefix: string;
  hotkey: Hotkey;
  labels: Record<string, string>;
  dataDir: string;
  /** Removes every container and image carrying this run's label, and the data dir. */
  cleanup(): Promise<void>;
}

export function testRun(docker: Dockerode, area: string): TestRun {
  const id = `${area}-${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), `cm-${id}-`));
  const labels = { [RUN_LABEL]: id };
  return {
    id,
    namePrefix: `t-${id}-`,
    hotkey: generateHotkey(),
    labels,
    dataDir,
    async cleanup() {
      await removeLabelled(docker, `${RUN_LABEL}=${id}`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** What a test may change of its run's rentals: the runtime's own options and the service's. */
export type RunRentalOptions = Partial<RuntimeCommon> & Partial<Pick<RentalSetup, 'warm' | 'defaultDiskBytes' | 'memoryReserveBytes' | 'renterPorts' | 'answerBoundMs'>> & {
  dataDir?: string;
  /** The renters' port pool ("30000-30009"), with renterPorts per rental. */
  renterPortPool?: string;
  localEngine?: boolean;
};

/** The rentals of this run on one host: its prefix, labels and data dir, SSH on loopback on `sshPorts`. */
export function runRentalSetup(docker: Dockerode, run: TestRun, sshPorts: number | readonly number[], over: RunRentalOptions = {}): RentalSetup {
  const ports = typeof sshPorts === 'number' ? [sshPorts] : [...sshPorts];
  const { dataDir, warm, defaultDiskBytes, memoryReserveBytes, renterPorts, renterPortPool, answerBoundMs, localEngine, ...common } = over;
  return {
    common: { minerHotkey: run.hotkey.ss58Address, log: silentLogger(), ...common },
    dataDir: dataDir ?? run.dataDir, namePrefix: run.namePrefix, labels: run.labels,
    hosts: [{
      name: 'local', docker, endpoint: `unix://${(docker.modem as { socketPath?: string }).socketPath ?? '?'}`,
      localEngine: localEngine ?? (process.getuid?.() === 0),
      sshBind: '127.0.0.1', sshPorts: parsePortPool(ports.join(','), 'test ssh ports'),
      renterPortPool: renterPortPool ? parsePortPool(renterPortPool, 'test renter ports') : null,
    }],
    renterPorts: renterPorts ?? 0,
    ...(warm !== undefined ? { warm } : {}),
    ...(defaultDiskBytes !== undefined ? { defaultDiskBytes } : {}),
    ...(memoryReserveBytes !== undefined ? { memoryReserveBytes } : {}),
    ...(answerBoundMs !== undefined ? { answerBoundMs } : {}),
    log: common.log ?? silentLogger(),
  };
}

export function createRunRentals(docker: Dockerode, run: TestRun, sshPorts: number | readonly number[], over: RunRentalOptions = {}): RentalService {
  return composeRentals(runRentalSetup(docker, run, sshPorts, over));
}

/** The rentals of their own run: SSH on a free loopback port, started, the base image ready. */
export interface ManagerRun {
  docker: Dockerode;
  run: TestRun;
  port: number;
  manager: RentalService;
}

export async function startManagerRun(area: string, over: RunRentalOptions = {}): Promise<ManagerRun> {
  const docker = await requireDocker();
  const run = testRun(docker, area);
  const port = await freePort();
  const manager = createRunRentals(docker, run, port, over);
  try {
    await manager.start();
    await manager.baseImageReady();
  } catch (err) {
    await stopManagerRun({ run, manager });
    throw err;
  }
  return { docker, run, port, manager };
}

/** Stops the manager and removes all the run made; safe on a half-made run. */
export async function stopManagerRun(ctx: Partial<ManagerRun>): Promise<void> {
  await ctx.manager?.stop();
  await ctx.run?.cleanup();
}

export async function removeLabelled(docker: Dockerode, label: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const images = await docker.listImages({ all: true, filters: { label: [label] } });
  for (const image of images) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
  // A network a container just left may still count its endpoint for a moment: asked again.
  for (let attempt = 0; attempt < 10; attempt++) {
    const networks = await docker.listNetworks({ filters: { label: [label] } });
    if (networks.length === 0) return;
    for (const network of networks) await docker.getNetwork(network.Id).remove().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The run's rental containers: those the ledger of `rentals` holds (warm containers waiting for a rental are not). */
export async function allocationContainers(docker: Dockerode, run: Pick<TestRun, 'id'>, rentals: Pick<RentalService, 'ledger'>): Promise<Dockerode.ContainerInfo[]> {
  const all = await docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${run.id}`] } });
  const held = new Set(rentals.ledger.all().map((r) => r.workload?.container).filter(Boolean));
  return all.filter((c) => held.has(c.Id));
}

/** The run's warm containers: containers of the run that no rental of `rentals` holds. */
export async function standbyContainers(docker: Dockerode, run: Pick<TestRun, 'id'>, rentals: Pick<RentalService, 'ledger'>): Promise<Dockerode.ContainerInfo[]> {
  const all = await docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${run.id}`] } });
  const held = new Set(rentals.ledger.all().map((r) => r.workload?.container).filter(Boolean));
  return all.filter((c) => !held.has(c.Id));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `n` distinct ports that were free a moment ago, none of them in `taken`. */
export async function freePorts(n: number, taken: readonly number[] = []): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p) && !taken.includes(p)) out.push(p);
  }
  return out;
}

export function renterKeys(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}


/**
 * Renter keys that are remembered, so an after-each hook can release whatever a failed
 * test left allocated and the next test starts on an idle miner.
 */
export function trackedHolders(): { keys(): ReturnType<typeof renterKeys>; release(manager: Pick<RentalService, 'deallocate'>): Promise<void> } {
  const issued: string[] = [];
  return {
    keys() {
      const keys = renterKeys();
      issued.push(keys.publicKeyPem);
      return keys;
    },
    async release(manager) {
      for (const pem of issued.splice(0)) await manager.deallocate(pem).catch(() => undefined);
    },
  };
}

export type SshAuth = { password: string } | { privateKey: string };

/** Logs in to 127.0.0.1:`port` as root and returns the command's output (the product's SSH login). */
export function sshRun(port: number, auth: SshAuth, command: string, timeoutMs = 20_000): Promise<string> {
  return sshLogin({ host: '127.0.0.1', port, username: 'root', command, timeoutMs, ...auth });
}

/** Memory limit of the cgroup the shell runs in (v1 or v2), in bytes. */
export const MEMORY_LIMIT_COMMAND = 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes';
