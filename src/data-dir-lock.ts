// One miner per data dir. The lock is a listening unix socket in Linux's abstract namespace,
// named after the data dir's device and inode:
// - bind() is atomic, so of two miners starting at once exactly one wins (no check-then-act
//   race as with a PID file or a lock directory);
// - the kernel releases the name when the holder's socket closes, which includes every way a
//   process dies (SIGKILL, OOM), so a crash leaves nothing stale behind;
// - it needs no native module (Node cannot flock() without one) and no file to clean up;
// - the holder answers a connection with its PID, so a second start can say who holds it.
// The abstract namespace belongs to a network namespace: two miners in different network
// namespaces sharing one data dir do not see each other. Elsewhere than Linux the socket is a
// file in the data dir, and a file whose listener is gone is taken over.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** How long a second start waits for the holder to say its PID. */
export const DEFAULT_LOCK_QUERY_TIMEOUT_MS = 2000;
/** Written beside the lock for people and `status`; the lock itself is the socket. */
export const PID_FILE = 'miner.pid';

export interface Holder {
  pid: number;
  port?: number;
  startedAt?: string;
}

export class DataDirLockedError extends Error {
  constructor(readonly dataDir: string, readonly holder: Holder | null) {
    super(
      `the data dir ${dataDir} is in use by another miner` +
        (holder ? ` (PID ${holder.pid}${holder.port !== undefined ? `, axon port ${holder.port}` : ''})` : '') +
        `: stop it first (kill ${holder ? holder.pid : '<its PID>'}) or give this one another --data-dir`,
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  /** Adds facts (the axon port) to what the holder tells a second start. */
  describe(extra: Partial<Holder>): void;
  release(): Promise<void>;
}

/** The lock's socket address for `dataDir` (which must exist). */
export function lockAddress(dataDir: string): string {
  const { dev, ino } = statSync(dataDir);
  const id = createHash('sha256').update(`${dev}:${ino}`).digest('hex').slice(0, 32);
  return process.platform === 'linux' ? `\0compute-miner-${id}` : join(dataDir, 'miner.lock');
}

function listen(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Asks the holder who it is; null when nobody answers. */
export function queryHolder(address: string, timeoutMs = DEFAULT_LOCK_QUERY_TIMEOUT_MS): Promise<Holder | null> {
  return new Promise((resolve) => {
    let text = '';
    const socket = createConnection(address);
    const done = (holder: Holder | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(holder);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 4096) done(null);
    });
    socket.on('end', () => {
      try {
        const holder = JSON.parse(text) as Holder;
        done(Number.isInteger(holder.pid) ? holder : null);
      } catch {
        done(null);
      }
    });
    socket.on('error', () => done(null));
  });
}

/** Takes the data dir's lock (making the dir, 0700, if needed); throws DataDirLockedError when another process holds it. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const address = lockAddress(dataDir);
  const facts: Holder = { pid: process.pid, startedAt: new Date().toISOString() };
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.end(JSON.stringify(facts));
  });
  try {
    await listen(server, address);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const holder = await queryHolder(address);
    // Only a socket file (not Linux) can outlive its process: nobody answering means it is stale.
    if (holder || address.startsWith('\0')) throw new DataDirLockedError(dataDir, holder);
    rmSync(address, { force: true });
    await listen(server, address).catch((again: NodeJS.ErrnoException) => {
      throw again.code === 'EADDRINUSE' ? new DataDirLockedError(dataDir, null) : again;
    });
  }
  // The lock must not keep the process alive on its own.
  server.unref();
  const pidFile = join(dataDir, PID_FILE);
  const writePid = () => writeFileSync(pidFile, `${JSON.stringify(facts)}\n`, { mode: 0o644 });
  writePid();
  return {
    describe(extra) {
      Object.assign(facts, extra);
      writePid();
    },
    async release() {
      rmSync(pidFile, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
