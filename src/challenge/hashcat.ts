// The hashcat solver: a mask attack (mode 610, BLAKE2b-512 of password ‖ salt) run as a child
// process with an argv array (never a shell), in a private state folder (HOME, XDG folders,
// kernel caches, session) with the potfile off; the whole process group is killed when the
// solve is aborted, and every answer is checked before it is returned.
import { execFile, spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, mkdir, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { ChallengeTask } from '../../protocol/index.js';
import { serializer } from '../serial.js';
import { isAnswer, fitsTask, type Solver, type SolveOutcome } from './solver.js';

export interface HashcatOptions {
  /** The hashcat binary; default 'hashcat' (looked up in PATH). */
  path?: string;
  /** Workload profile (-w), 1–4; default 3. */
  workload?: number;
  /** Extra arguments appended to every run (e.g. ['-O'], ['-D', '2']). */
  extraArgs?: string[];
  /** Folder for hashcat's kernels, sessions and outfiles; default a private temporary folder removed on close. */
  stateDir?: string;
}

export const DEFAULT_HASHCAT_WORKLOAD = 3;
// hashcat's exit codes.
const EXIT_CRACKED = 0;
const EXIT_EXHAUSTED = 1;
// How much of hashcat's output is kept for error messages.
const OUTPUT_TAIL = 4096;
// A string of one-byte characters is what hashcat's custom charset (?1) can express.
const ONE_BYTE = /^[\x00-\x7f]*$/;
const MAX_SALT_BYTES = 256;

export interface HashcatOutcome extends SolveOutcome {
  /** Exit code of hashcat, or null when it was killed. */
  exitCode: number | null;
}

export class HashcatSolver implements Solver {
  readonly name = 'hashcat' as const;
  readonly path: string;
  readonly workload: number;
  readonly extraArgs: readonly string[];
  /** `hashcat --version`, once probed. */
  version: string | null = null;
  private readonly ownsStateDir: boolean;
  private stateDir: string | null;
  private runs = 0;
  private readonly children = new Set<number>();
  private readonly serialize = serializer();

  constructor(options: HashcatOptions = {}) {
    this.path = options.path ?? 'hashcat';
    const workload = options.workload ?? DEFAULT_HASHCAT_WORKLOAD;
    if (!Number.isInteger(workload) || workload < 1 || workload > 4) throw new RangeError(`hashcat workload must be 1–4, not ${workload}`);
    this.workload = workload;
    this.extraArgs = [...(options.extraArgs ?? [])];
    this.stateDir = options.stateDir ?? null;
    this.ownsStateDir = options.stateDir === undefined;
  }

  /** Runs `hashcat --version`; throws when the binary is missing or does not run. */
  async probe(): Promise<string> {
    const { stdout } = await promisify(execFile)(this.path, ['--version'], { timeout: 15_000 });
    this.version = stdout.trim();
    return this.version;
  }

  /**
   * Solves a tiny challenge so that hashcat compiles and caches its kernel now rather than
   * on the first real challenge; resolves with the seconds it took, throws when it fails.
   */
  async warmUp(signal: AbortSignal = AbortSignal.timeout(600_000)): Promise<number> {
    if (this.version === null) await this.probe();
    if (!this.ownsStateDir && this.stateDir) await killStrays(this.stateDir);
    const charset = ['a', 'b', 'c'];
    const password = Array.from(randomBytes(3), (b) => charset[b % 3]!).join('');
    const salt = Buffer.from(randomBytes(8).toString('hex'));
    const task: ChallengeTask = { digest: createHash('blake2b512').update(password).update(salt).digest(), salt, charset, length: 3 };
    const outcome = await this.solve(task, signal);
    if (outcome.password !== password) throw new Error(`hashcat warm-up ended ${outcome.status} (exit ${outcome.exitCode})`);
    return outcome.seconds;
  }

  supports(task: ChallengeTask): boolean {
    return task.charset.every((c) => ONE_BYTE.test(c)) && task.salt.length <= MAX_SALT_BYTES;
  }

  /** hashcat processes alive now (0 between challenges). */
  liveProcesses(): number {
    return this.children.size;
  }

  /** Runs one hashcat at a time; later calls wait for earlier ones. */
  solve(task: ChallengeTask, signal: AbortSignal): Promise<HashcatOutcome> {
    return this.serialize(() => this.run(task, signal));
  }

  async close(): Promise<void> {
    for (const pid of this.children) killGroup(pid);
    await this.serialize(async () => undefined); // the running search ends first
    if (this.ownsStateDir && this.stateDir) await rm(this.stateDir, { recursive: true, force: true });
    this.stateDir = null;
  }

  /** The argv of one run (without the binary), as a pure function of the task. */
  static argv(task: ChallengeTask, session: string, outfile: string, workload: number, extraArgs: readonly string[]): string[] {
    const charsetHex = Buffer.from(task.charset.join(''), 'latin1').toString('hex');
    const target = `$BLAKE2$${task.digest.toString('hex')}:${task.salt.toString('hex')}`;
    return [
      '-m', '610', '-a', '3',
      '--hex-charset', '--hex-salt', '-1', charsetHex,
      target, '?1'.repeat(task.length),
      '--potfile-disable', '--restore-disable', '--logfile-disable',
      '--session', session, '--outfile', outfile, '--outfile-format', '3',
      '--quiet', '-w', String(workload),
      ...extraArgs,
    ];
  }

  private async folder(): Promise<string> {
    if (!this.stateDir) this.stateDir = await mkdtemp(join(tmpdir(), 'challenge-hashcat-'));
    for (const sub of ['cache', 'data', 'config', 'pocl', 'runs']) await mkdir(join(this.stateDir, sub), { recursive: true });
    return this.stateDir;
  }

  private async run(task: ChallengeTask, signal: AbortSignal): Promise<HashcatOutcome> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const aborted = (exitCode: number | null): HashcatOutcome => ({ password: null, status: 'aborted', solver: this.name, seconds: seconds(), exitCode });
    if (!this.supports(task)) throw new Error('hashcat cannot take this charset or salt');
    if (signal.aborted) return aborted(null);
    const dir = await this.folder();
    const n = ++this.runs;
    const session = `challenge-${process.pid}-${n}`;
    const outfile = join(dir, 'runs', `${session}.out`);
    const argv = HashcatSolver.argv(task, session, outfile, this.workload, this.extraArgs);
    const env = {
      ...process.env,
      HOME: dir,
      XDG_CACHE_HOME: join(dir, 'cache'),
      XDG_DATA_HOME: join(dir, 'data'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      POCL_CACHE_DIR: join(dir, 'pocl'),
    };
    try {
      const { code, output } = await this.spawnRun(argv, dir, env, signal);
      if (signal.aborted) return aborted(code);
      if (code === EXIT_CRACKED) {
        const password = await readAnswer(outfile, task);
        if (password !== null) return { password, status: 'found', solver: this.name, seconds: seconds(), exitCode: code };
        throw new Error('hashcat reported a crack but wrote no matching password');
      }
      if (code === EXIT_EXHAUSTED) return { password: null, status: 'exhausted', solver: this.name, seconds: seconds(), exitCode: code };
      throw new Error(`hashcat exited with code ${code}: ${lastLines(output)}`);
    } finally {
      await rm(outfile, { force: true });
    }
  }

  private spawnRun(argv: string[], cwd: string, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      // Its own process group, so that killing it also kills anything it started.
      const child = spawn(this.path, argv, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const keep = (chunk: Buffer) => { output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL); };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const pid = child.pid;
      const kill = () => { if (pid !== undefined) killGroup(pid); };
      if (pid !== undefined) this.children.add(pid);
      signal.addEventListener('abort', kill, { once: true });
      child.once('error', (err) => {
        signal.removeEventListener('abort', kill);
        if (pid !== undefined) this.children.delete(pid);
        reject(err);
      });
      child.once('close', (code) => {
        signal.removeEventListener('abort', kill);
        // Whatever hashcat left in its group goes with it.
        kill();
        if (pid !== undefined) this.children.delete(pid);
        resolve({ code, output });
      });
    });
  }
}

/**
 * Kills hashcat runs left in a lasting state folder by an earlier miner process that died
 * without cleaning up (kill -9): they would otherwise search on for hours.
 */
export async function killStrays(stateDir: string): Promise<void> {
  const root = resolve(stateDir);
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => null);
    if (cwd !== root) continue;
    killGroup(Number(entry));
    try { process.kill(Number(entry), 'SIGKILL'); } catch { /* already gone */ }
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// --outfile-format 3 writes one hex-encoded password per line; only a verified one is taken.
async function readAnswer(outfile: string, task: ChallengeTask): Promise<string | null> {
  const text = await readFile(outfile, 'utf8').catch(() => '');
  for (const line of text.split(/\r?\n/)) {
    const hex = line.trim();
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) continue;
    const password = Buffer.from(hex, 'hex').toString('latin1');
    if (fitsTask(task, password) && isAnswer(task, password)) return password;
  }
  return null;
}

function lastLines(output: string): string {
  return output.trim().split(/\r?\n/).slice(-3).join(' | ') || 'no output';
}
