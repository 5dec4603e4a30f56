// LXCFS of the miner's own: a FUSE file system whose /proc and CPU files are computed from the
// reading process's cgroup, bound read-only into each rental (src/containers/lxcfs-mounts.ts)
// so its tools see its own cores, memory and uptime. Its own mount point and pidfile under the
// miner's run dir, never the system service's /var/lib/lxcfs. Started detached, like the
// rental daemon: a miner restart leaves it serving the running rentals. The keeper checks it
// answers, starts it again with backoff when it does not, and says what it is in /health.
// Without it rentals still start, with the host's view, and the log says how to fix it.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { MountSettings } from 'dockerode';
import { LXCFS_VIEW_FILES, lxcfsViewMounts } from '../containers/lxcfs-mounts.js';
import type { Logger } from '../log.js';
import { mountedType } from './pool.js';
import { DEFAULT_RUN_DIR, DEFAULT_STATE_DIR } from './rental-dockerd.js';

const run = promisify(execFile);

export interface LxcfsLayout {
  /** Where LXCFS is mounted; each rental binds single files from below it. */
  mountPoint: string;
  /** LXCFS locks its pidfile: its own keeps it apart from the system service's /run/lxcfs.pid. */
  pidfile: string;
  logFile: string;
}

/** Where the miner's LXCFS lives. Pure. */
export function lxcfsLayout(stateDir = DEFAULT_STATE_DIR, runDir = DEFAULT_RUN_DIR): LxcfsLayout {
  return { mountPoint: join(runDir, 'lxcfs'), pidfile: join(runDir, 'lxcfs.pid'), logFile: join(stateDir, 'lxcfs.log') };
}

/** LXCFS's command line: in the foreground (the miner holds its pid), load averages per rental. Pure. */
export function lxcfsArgs(l: LxcfsLayout): string[] {
  return ['--foreground', '--enable-loadavg', '--pidfile', l.pidfile, l.mountPoint];
}

/** How long to wait before start attempt `failures + 1`: 1 s, doubling, at most 60 s. Pure. */
export function lxcfsRestartDelayMs(failures: number, baseMs = 1000, maxMs = 60_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

/** The file system type FUSE gives an LXCFS mount in mountinfo. */
export const LXCFS_MOUNT_TYPE = 'fuse.lxcfs';
export const LXCFS_START_TIMEOUT_MS = 10_000;
export const LXCFS_CHECK_EVERY_MS = 5_000;
export const LXCFS_SLOW_CHECKS = 3;
export const LXCFS_FIX = 'install it with "apt-get install lxcfs" (the miner starts it within a minute), or see the log';

export type LxcfsPhase = 'serving' | 'starting' | 'missing' | 'failed';

/** What /health says of LXCFS. */
export interface LxcfsReport {
  state: LxcfsPhase;
  mountPoint: string;
  /** The view files rentals get (relative to the mount point). */
  files: string[];
  /** Times it was started again after it stopped answering. */
  restarts: number;
  error?: string;
}

export interface LxcfsKeeper {
  mountPoint: string;
  /** The bind mounts a new container gets now; null while LXCFS does not answer (the host's view). */
  viewMounts(): MountSettings[] | null;
  report(): LxcfsReport;
  /** Stops watching; LXCFS keeps serving the running rentals. */
  close(): void;
  /** Stops watching, stops LXCFS and unmounts it (tests, an operator's teardown). */
  shutdown(): Promise<void>;
}

export interface LxcfsOptions {
  log: Logger;
  /** The lxcfs binary ['lxcfs', from PATH]. */
  binary?: string;
  checkEveryMs?: number;
  startTimeoutMs?: number;
}

class LxcfsError extends Error {
  constructor(message: string, readonly phase: 'missing' | 'failed') {
    super(message);
  }
}

function mountTypeAt(path: string): string | null {
  return mountedType(readFileSync('/proc/self/mountinfo', 'utf8'), path);
}

type Probe = { files: string[] } | { dead: string } | { slow: true };

/** Whether it answers, read by a child process so a hung FUSE never blocks the miner: its served files, dead, or slow (no answer in 2 s). */
async function probe(mountPoint: string): Promise<Probe> {
  const type = mountTypeAt(mountPoint);
  if (type !== LXCFS_MOUNT_TYPE) return { dead: type ? `${mountPoint} is a ${type} mount` : `nothing is mounted on ${mountPoint}` };
  try {
    await run('cat', [join(mountPoint, 'proc/uptime')], { timeout: 2000 });
  } catch (err) {
    const e = err as { killed?: boolean; stderr?: string; message: string };
    return e.killed ? { slow: true } : { dead: (e.stderr ?? e.message).trim() };
  }
  return { files: LXCFS_VIEW_FILES.filter((file) => existsSync(join(mountPoint, file))) };
}

async function servedFiles(mountPoint: string): Promise<string[] | null> {
  const p = await probe(mountPoint);
  return 'files' in p ? p.files : null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of an LXCFS serving this mount point from an earlier start, by its pidfile. */
function previousPid(layout: LxcfsLayout): number | null {
  try {
    const pid = Number(readFileSync(layout.pidfile, 'utf8').trim());
    if (!Number.isSafeInteger(pid) || pid <= 1 || !pidAlive(pid)) return null;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((arg) => arg.endsWith('lxcfs')) && cmdline.includes(layout.mountPoint) ? pid : null;
  } catch {
    return null;
  }
}

async function stopPid(pid: number, waitMs = 5000): Promise<void> {
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + waitMs;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (pidAlive(pid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

/** Unmounts whatever is left on the mount point (a dead LXCFS leaves "transport endpoint is not connected"). */
async function unmount(mountPoint: string): Promise<void> {
  if (mountTypeAt(mountPoint) === null) return;
  await run('umount', ['-l', mountPoint], { timeout: 10_000 }).catch(() => undefined);
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}

/** Starts LXCFS on the layout's mount point and waits until it answers; its served files. */
async function startLxcfs(layout: LxcfsLayout, binary: string, timeoutMs: number): Promise<string[]> {
  const previous = previousPid(layout);
  if (previous !== null) await stopPid(previous);
  await unmount(layout.mountPoint);
  mkdirSync(layout.mountPoint, { recursive: true, mode: 0o755 });
  mkdirSync(dirname(layout.logFile), { recursive: true, mode: 0o700 });
  const logFd = openSync(layout.logFile, 'a');
  let exited: string | null = null;
  let missing = false;
  try {
    const child = spawn(binary, lxcfsArgs(layout), { detached: true, stdio: ['ignore', logFd, logFd] });
    child.on('error', (err: NodeJS.ErrnoException) => { missing = err.code === 'ENOENT'; exited = err.message; });
    child.on('exit', (code, signal) => { exited = `exited with ${code ?? signal}`; });
    child.unref();
  } finally {
    closeSync(logFd);
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const files = await servedFiles(layout.mountPoint);
    if (files) return files;
    if (missing) throw new LxcfsError(`${binary} is not installed`, 'missing');
    if (exited) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new LxcfsError(`lxcfs did not start on ${layout.mountPoint} (${exited ?? `no answer within ${timeoutMs / 1000} s`}): ${logTail(layout.logFile)}`, 'failed');
}

/**
 * Makes LXCFS answer on the layout's mount point (an LXCFS already serving there is kept) and
 * keeps it answering. Never throws: a missing or failing LXCFS is a state, logged once.
 */
export async function keepLxcfs(layout: LxcfsLayout, opts: LxcfsOptions): Promise<LxcfsKeeper> {
  const log = opts.log.child({ component: 'lxcfs' });
  const binary = opts.binary ?? 'lxcfs';
  const checkEveryMs = opts.checkEveryMs ?? LXCFS_CHECK_EVERY_MS;
  const startTimeoutMs = opts.startTimeoutMs ?? LXCFS_START_TIMEOUT_MS;
  let state: LxcfsPhase = 'starting';
  let files: string[] = [];
  let error: string | undefined;
  let restarts = 0;
  let failures = 0;
  let nextAttemptAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let everServed = false;

  async function attempt(): Promise<void> {
    try {
      files = await startLxcfs(layout, binary, startTimeoutMs);
      if (everServed) restarts++;
      everServed = true;
      state = 'serving';
      error = undefined;
      failures = 0;
      log.info({ mountPoint: layout.mountPoint, files: files.length }, 'lxcfs serves each rental its own /proc view (memory, CPUs, uptime, load)');
    } catch (err) {
      const e = err as LxcfsError;
      const phase = e.phase ?? 'failed';
      failures++;
      nextAttemptAt = Date.now() + lxcfsRestartDelayMs(failures);
      // One line per new problem, not one per retry.
      if (state !== phase || error !== e.message) {
        log.error({ err: e.message }, `no lxcfs: rentals start with the host's view of /proc (free, top, nproc and os.cpu_count() show the host's memory and CPUs); ${LXCFS_FIX}`);
      }
      state = phase;
      error = e.message;
      files = [];
    }
  }

  let slowChecks = 0;
  async function check(): Promise<void> {
    if (state === 'serving') {
      const p = await probe(layout.mountPoint);
      if ('files' in p) { slowChecks = 0; return; }
      // A busy host may delay one answer: only a dead mount, or three slow checks in a row, is a restart.
      if ('slow' in p && ++slowChecks < LXCFS_SLOW_CHECKS) return;
      slowChecks = 0;
      // Rentals made while it served keep a dead view until they are made again; new ones get the new mount.
      log.error({ mountPoint: layout.mountPoint, reason: 'dead' in p ? p.dead : 'no answer' }, 'lxcfs stopped answering: starting it again; rentals started before read errors from its files until they restart');
      state = 'starting';
      failures = 0;
      nextAttemptAt = 0;
    }
    if (Date.now() >= nextAttemptAt) await attempt();
  }

  let inflight: Promise<void> = Promise.resolve();
  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => { inflight = check().catch(() => undefined).finally(schedule); }, checkEveryMs);
    timer.unref();
  }

  const adopted = await servedFiles(layout.mountPoint);
  if (adopted) {
    files = adopted;
    state = 'serving';
    everServed = true;
    log.info({ mountPoint: layout.mountPoint, files: files.length }, 'lxcfs already serves rentals their own /proc view');
  } else {
    await attempt();
  }
  schedule();

  const stopWatching = () => {
    closed = true;
    if (timer) clearTimeout(timer);
  };
  return {
    mountPoint: layout.mountPoint,
    viewMounts: () => (state === 'serving' ? lxcfsViewMounts(layout.mountPoint, files) : null),
    report: () => ({ state, mountPoint: layout.mountPoint, files: [...files], restarts, ...(error ? { error } : {}) }),
    close: stopWatching,
    async shutdown() {
      stopWatching();
      await inflight; // a start under way finishes first, so nothing is left running after
      const pid = previousPid(layout);
      if (pid !== null) await stopPid(pid);
      await unmount(layout.mountPoint);
      state = 'failed';
      error = 'stopped';
      files = [];
    },
  };
}
