// One SSH connection to a rental (ssh2), kept open for every step of the hardware check:
// SFTP upload and download, short commands, and one long-running program spoken to line by
// line over its stdin/stdout. Every wait has a timeout; stderr is collected, never ignored.
import ssh2 from 'ssh2';
import { hostPin } from './host-pin.js';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
  /** The host keys to accept (OpenSSH lines, from the signed Allocate reply); absent: any host key. */
  hostKeys?: readonly string[];
  /** Budget of the login itself, ms. */
  timeoutMs: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; null when the program was ended by a signal. */
  code: number | null;
}

/** Output kept per stream: a probe prints a few KiB, a hostile one must not fill memory. */
export const MAX_STREAM_BYTES = 1024 * 1024;

/** A program running in the rental, read a line at a time. */
export interface LineProgram {
  /** The next stdout line; rejects at `timeoutMs`, or when the program ends first. */
  nextLine(timeoutMs: number, what: string): Promise<string>;
  write(line: string): void;
  /** Everything the program wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code once the channel closes. */
  exited: Promise<number | null>;
  /** Closes the channel (the program gets SIGHUP with its session). */
  close(): void;
}

export class TimeoutError extends Error {}

export class SshSession {
  private sftpHandle: Promise<ssh2.SFTPWrapper> | undefined;

  private constructor(private readonly client: ssh2.Client, readonly target: SshTarget) {}

  /** Logs in; rejects with the reason when the login fails or takes longer than `timeoutMs`. */
  static open(target: SshTarget): Promise<SshSession> {
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let settled = false;
      const done = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          client.end();
          reject(err);
        } else resolve(new SshSession(client, target));
      };
      const timer = setTimeout(() => done(new TimeoutError(`no SSH login within ${target.timeoutMs} ms`)), target.timeoutMs);
      client.on('ready', () => done(null));
      let pin: ReturnType<typeof hostPin> | undefined;
      try {
        pin = target.hostKeys ? hostPin(target.hostKeys) : undefined;
      } catch (err) {
        return done(new Error(`SSH ${target.host}:${target.port}: cannot pin the host: ${(err as Error).message}`));
      }
      // A refused host key: say which key was met, not ssh2's bare "verification failed".
      client.on('error', (err) => done(pin?.mismatch() ?? new Error(`SSH ${target.host}:${target.port}: ${err.message}`)));
      client.on('close', () => done(pin?.mismatch() ?? new Error(`SSH ${target.host}:${target.port}: connection closed during login`)));
      client.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        password: target.password,
        privateKey: target.privateKey,
        readyTimeout: target.timeoutMs,
        // Only what was given: never offer an agent's or the user's other keys to a miner's box.
        tryKeyboard: false,
        agent: undefined,
        ...(pin ? { hostVerifier: pin.verify } : {}),
      });
    });
  }

  private sftp(): Promise<ssh2.SFTPWrapper> {
    this.sftpHandle ??= new Promise((resolve, reject) => {
      this.client.sftp((err, sftp) => (err ? reject(new Error(`SFTP: ${err.message}`)) : resolve(sftp)));
    });
    return this.sftpHandle;
  }

  /** Creates a directory (mode 0700) by SFTP. */
  async mkdir(path: string, timeoutMs: number): Promise<void> {
    const sftp = await withTimeout(this.sftp(), timeoutMs, 'SFTP session');
    await withTimeout(new Promise<void>((resolve, reject) => {
      sftp.mkdir(path, { mode: 0o700 }, (err) => (err ? reject(new Error(`SFTP mkdir ${path}: ${err.message}`)) : resolve()));
    }), timeoutMs, `SFTP mkdir ${path}`);
  }

  /** Writes a file by SFTP. */
  async upload(path: string, data: Buffer | string, timeoutMs: number, mode = 0o600): Promise<void> {
    const sftp = await withTimeout(this.sftp(), timeoutMs, 'SFTP session');
    await withTimeout(new Promise<void>((resolve, reject) => {
      sftp.writeFile(path, data, { mode }, (err) => (err ? reject(new Error(`SFTP upload ${path}: ${err.message}`)) : resolve()));
    }), timeoutMs, `SFTP upload ${path}`);
  }

  /** Reads a file by SFTP (at most MAX_STREAM_BYTES). */
  async download(path: string, timeoutMs: number): Promise<Buffer> {
    const sftp = await withTimeout(this.sftp(), timeoutMs, 'SFTP session');
    return withTimeout(new Promise<Buffer>((resolve, reject) => {
      sftp.stat(path, (statErr, stats) => {
        if (statErr) return reject(new Error(`SFTP download ${path}: ${statErr.message}`));
        if (stats.size > MAX_STREAM_BYTES) return reject(new Error(`SFTP download ${path}: ${stats.size} bytes, more than ${MAX_STREAM_BYTES}`));
        sftp.readFile(path, (err, data) => (err ? reject(new Error(`SFTP download ${path}: ${err.message}`)) : resolve(data)));
      });
    }), timeoutMs, `SFTP download ${path}`);
  }

  /** Runs a command to its end; its stdout, stderr and exit code. */
  async exec(command: string, timeoutMs: number): Promise<ExecResult> {
    const program = await this.start(command, timeoutMs);
    let stdout = '';
    const collect = (async () => {
      for (;;) {
        try {
          stdout += `${await program.nextLine(timeoutMs, command)}\n`;
        } catch {
          return;
        }
      }
    })();
    try {
      const code = await withTimeout(program.exited, timeoutMs, JSON.stringify(command));
      await collect;
      return { stdout: stdout + program.rest(), stderr: program.stderr(), code };
    } finally {
      program.close();
    }
  }

  /** Starts `command` in its own channel, to be spoken to line by line. */
  start(command: string, timeoutMs: number): Promise<LineProgram & { rest(): string }> {
    return withTimeout(new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(new Error(`SSH exec: ${err.message}`));
        resolve(lineProgram(stream));
      });
    }), timeoutMs, `starting ${JSON.stringify(command)}`);
  }

  close(): void {
    this.client.end();
  }
}

function lineProgram(stream: ssh2.ClientChannel): LineProgram & { rest(): string } {
  let buffered = '';
  let stderr = '';
  let ended = false;
  let exitCode: number | null = null;
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  const wake = () => { const w = waiter; waiter = undefined; w?.(); };
  stream.on('data', (d: Buffer) => {
    if (buffered.length > MAX_STREAM_BYTES) return;
    buffered += d.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    wake();
  });
  stream.stderr.on('data', (d: Buffer) => {
    if (stderr.length < MAX_STREAM_BYTES) stderr += d.toString('utf8');
  });
  stream.on('exit', (code: number | null) => { exitCode = code; });
  const exited = new Promise<number | null>((resolve) => {
    stream.on('close', () => {
      ended = true;
      wake();
      resolve(exitCode);
    });
  });
  stream.on('error', () => undefined);
  return {
    async nextLine(timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (lines.length > 0) return lines.shift()!;
        if (ended) throw new Error(`${what}: the program ended without answering${stderr ? ` (stderr: ${stderr.trim().slice(0, 300)})` : ''}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new TimeoutError(`${what}: no answer within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => { waiter = undefined; resolve(); }, left);
          waiter = () => { clearTimeout(timer); resolve(); };
        });
      }
    },
    write(line) {
      if (!ended) stream.write(`${line}\n`);
    },
    stderr: () => stderr,
    rest: () => buffered,
    exited,
    close() {
      if (!ended) stream.close();
    },
  };
}

/** Rejects with TimeoutError when `ms` pass first. */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${Math.round(ms)} ms`)), Math.max(0, ms));
    work.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}
