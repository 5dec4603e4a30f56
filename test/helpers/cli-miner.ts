// Real miner processes for tests: `node dist/src/cli.js miner ...` on 127.0.0.1 with a name
// prefix of the test run, its output kept. cleanupCliMiners() kills what still runs and
// removes every container the miners labelled with their hotkeys, even after a failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { fromKeyFile } from '../../protocol/index.js';
import { freePort, removeLabelled, type TestRun } from './docker.js';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface CliMiner {
  child: ChildProcess;
  port: number;
  sshPort: number;
  dataDir: string;
  namePrefix: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

export interface CliMinerOptions {
  dataDir?: string;
  port?: number;
  sshPort?: number;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Pass --ssh-port/--ssh-bind [true]; a miner with --hosts takes its ports from the file. */
  sshFlags?: boolean;
}

export async function spawnCliMiner(run: TestRun, name: string, o: CliMinerOptions = {}): Promise<CliMiner> {
  const dataDir = o.dataDir ?? join(run.dataDir, name);
  mkdirSync(dataDir, { recursive: true });
  const port = o.port ?? (await freePort());
  const sshPort = o.sshPort ?? (await freePort());
  const namePrefix = `${run.namePrefix}${name}-`;
  const child = spawn(process.execPath, [
    CLI, 'miner', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port),
    ...(o.sshFlags === false ? [] : ['--ssh-port', String(sshPort), '--ssh-bind', '127.0.0.1']),
    '--name-prefix', namePrefix, '--log-format', 'json', ...(o.args ?? ['--allow-any']),
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, port, sshPort, dataDir, namePrefix, stdout: () => out, stderr: () => err, exited };
}

/** Waits until the miner answers /health (and `ready` holds for it); throws with its stderr if it exits first. */
export async function healthy(miner: CliMiner, ready: (health: Record<string, any>) => boolean = () => true, timeoutMs = 60_000): Promise<Record<string, any>> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (miner.child.exitCode !== null) throw new Error(`the miner exited with ${miner.child.exitCode}: ${miner.stderr()}`);
    const health = await fetch(`http://127.0.0.1:${miner.port}/health`).then((r) => (r.ok ? r.json() : null), () => null);
    if (health && ready(health)) return health;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the miner did not become ready: ${miner.stderr()}`);
}

export async function stopCliMiner(miner: CliMiner, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (miner.child.exitCode === null && miner.child.signalCode === null) miner.child.kill(signal);
  return miner.exited;
}

/** How long a miner given SIGTERM may take to stop (its warm container removed) before SIGKILL. */
const STOP_GRACE_MS = 20_000;

export async function cleanupCliMiners(docker: Dockerode, miners: CliMiner[]): Promise<void> {
  // SIGTERM first: a miner that stops removes its warm container itself, even one being created.
  await Promise.all(miners.map(async (m) => {
    if (m.child.exitCode !== null || m.child.signalCode !== null) return;
    m.child.kill('SIGTERM');
    const timer = setTimeout(() => m.child.kill('SIGKILL'), STOP_GRACE_MS);
    await m.exited;
    clearTimeout(timer);
  }));
  const owners = new Set<string>();
  for (const m of miners) {
    try {
      owners.add(fromKeyFile(readFileSync(join(m.dataDir, 'hotkey.json'), 'utf8')).ss58Address);
    } catch {
      // A miner that never wrote its hotkey made no container.
    }
  }
  for (const owner of owners) await sweepLabelled(docker, `compute-miner.owner=${owner}`);
}

/**
 * Removes everything carrying `label` until the engine has shown none for `quietMs`: a miner
 * killed while Docker was creating a container leaves that create running in the engine, and
 * the container appears only once it completes (seconds later on a busy engine).
 */
export async function sweepLabelled(docker: Dockerode, label: string, quietMs = 15_000, timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let quietSince = Date.now();
  await removeLabelled(docker, label);
  while (Date.now() < end && Date.now() - quietSince < quietMs) {
    await new Promise((r) => setTimeout(r, 1000));
    const found = await docker.listContainers({ all: true, filters: { label: [label] } });
    const networks = await docker.listNetworks({ filters: { label: [label] } });
    if (found.length > 0 || networks.length > 0) {
      await removeLabelled(docker, label);
      quietSince = Date.now();
    }
  }
}
