// A private Docker daemon for tests that stop and restart Docker: its own socket, data root,
// exec root, containerd namespace and bridge interface, no iptables or sysctl changes, so the
// shared daemon (and everyone else's containers) is never touched. Never `--bridge=none`:
// dockerd then deletes the host's docker0, which the shared daemon's containers need.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Dockerode from 'dockerode';

export interface PrivateDockerd {
  socket: string;
  docker: Dockerode;
  /** SIGKILL: the daemon vanishes without cleaning up, as in a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same data root; resolves when it answers. */
  restart(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL) and removes its directories. */
  destroy(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

/** `extraArgs` go to dockerd after the private ones (e.g. a second `-H` listener). */
export async function startPrivateDockerd(dir: string, id: string, extraArgs: readonly string[] = []): Promise<PrivateDockerd> {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const bridge = `cmb${id.replace(/[^a-z0-9]/g, '').slice(-8)}`;
  execFileSync('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
  execFileSync('ip', ['addr', 'add', `10.213.${randomInt(1, 254)}.1/24`, 'dev', bridge]);
  const args = [
    '-H', `unix://${socket}`, '--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'pid'),
    `--bridge=${bridge}`, '--iptables=false', '--ip-forward=false', '--ip-masq=false',
    '--containerd-namespace', `cm-${id}`, '--containerd-plugins-namespace', `cm-${id}-plugins`,
    ...extraArgs,
  ];
  const docker = new Dockerode({ socketPath: socket });
  let child: ChildProcess | undefined;

  const exited = (c: ChildProcess) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
  });

  async function launch(): Promise<void> {
    const log = openSync(join(dir, 'dockerd.log'), 'a');
    const started = spawn('dockerd', args, { stdio: ['ignore', log, log] });
    child = started;
    const end = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < end) {
      if (started.exitCode !== null) throw new Error(`private dockerd exited with ${started.exitCode}; see ${dir}/dockerd.log`);
      if (await docker.ping().then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`private dockerd did not answer within ${START_TIMEOUT_MS} ms`);
  }

  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

  /** The daemon's own containerd outlives a killed dockerd for a moment; a restart must wait for it. */
  async function reapContainerd(): Promise<void> {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(join(dir, 'exec', 'containerd', 'containerd.pid'), 'utf8'), 10);
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1) return;
    for (let waited = 0; alive(pid); waited += 50) {
      if (waited === 3000) process.kill(pid, 'SIGKILL');
      if (waited > 10_000) throw new Error(`containerd ${pid} of the private dockerd does not exit`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function stop(signal: NodeJS.Signals): Promise<void> {
    const c = child;
    if (!c) return;
    child = undefined;
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited(c);
    clearTimeout(timer);
    await reapContainerd();
  }

  async function destroy(): Promise<void> {
    await stop('SIGTERM');
    // dockerd leaves its data root mounted; deepest mounts first.
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${dir}/`));
    for (const m of mounts.sort((a, b) => b.length - a.length)) {
      try { execFileSync('umount', ['-l', m]); } catch { /* already gone */ }
    }
    try { execFileSync('ip', ['link', 'delete', bridge]); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    await launch();
  } catch (err) {
    // The caller never gets a handle to destroy: the daemon, bridge and folder go here.
    await destroy().catch(() => undefined);
    throw err;
  }
  return { socket, docker, kill: () => stop('SIGKILL'), restart: launch, destroy };
}

/** Copies an image from one daemon to another (docker save | docker load). */
export async function copyImage(from: Dockerode, to: Dockerode, ref: string): Promise<void> {
  const tar = await from.getImage(ref).get();
  const load = await to.loadImage(tar);
  await new Promise<void>((resolve, reject) => to.modem.followProgress(load, (err: Error | null) => (err ? reject(err) : resolve())));
}
