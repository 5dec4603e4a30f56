// The proof of hardware over one SSH session: upload the validator's probe program by SFTP,
// check its sha256 with the container's python3, run it, read what it measured, time the
// seeded CPU workload (and the GPU one where there are GPUs), open blocks chosen after the
// commitment, and compare the measurements with what was asked and what Specs claim.
// Nothing the miner provides is trusted beyond the container's python3 running our program.
import { randomBytes } from 'node:crypto';
import type { SpecsOutput } from '../../protocol/index.js';
import { DEFAULT_TOLERANCES, parseMeasured, shortfalls, type Asked, type Measured, type Tolerances } from './measure.js';
import { PROBE_PROGRAM, PROBE_SHA256 } from './probe-program.js';
import {
  chooseIndices, commitLimitSeconds, DEFAULT_CPU_PROOF, DEFAULT_GPU_PROOF, DEFAULT_MAX_CPU_BLOCK_SECONDS, DEFAULT_MAX_GPU_BLOCK_SECONDS,
  DEFAULT_OPENING_DEADLINE_SECONDS, DEFAULT_PROOF_GRACE_SECONDS, newSeed, openingsProblem, type ProofKind, type ProofParams,
} from './proof.js';
import { TimeoutError, withTimeout, type LineProgram, type SshSession } from './ssh-session.js';

export interface HardwareOptions {
  cpuProof?: ProofParams;
  gpuProof?: ProofParams;
  /** Slowest acceptable block on one asked-for core [DEFAULT_MAX_CPU_BLOCK_SECONDS]. */
  maxCpuBlockSeconds?: number;
  /** Slowest acceptable block on one GPU [DEFAULT_MAX_GPU_BLOCK_SECONDS]. */
  maxGpuBlockSeconds?: number;
  /** Slack on a commitment's time limit [DEFAULT_PROOF_GRACE_SECONDS]. */
  graceSeconds?: number;
  /** Openings must follow the indices within this [DEFAULT_OPENING_DEADLINE_SECONDS]. */
  openingDeadlineSeconds?: number;
  tolerances?: Tolerances;
  /** Budget of each upload, hash check and the probe's first line [20 s]. */
  stepTimeoutMs?: number;
}

export const DEFAULT_HARDWARE_STEP_TIMEOUT_MS = 20_000;

/** One proof's part of the report. */
export interface ProofPart {
  /** true: verified; false: failed; null: not run (no GPU, or an earlier step failed). */
  ok: boolean | null;
  /** From sending the seed to the commitment arriving, measured by the validator. */
  seconds: number | null;
  limit_seconds: number | null;
  blocks: number;
  opened: number[];
  /** Processes (CPU) or GPUs the probe said it used. */
  workers: number | null;
  root: string | null;
  reason: string | null;
}

/** The report's `proof`: `ok` for the whole proof, the CPU proof's figures beside it, the GPU one under `gpu`. */
export interface ProofReport extends ProofPart {
  program_sha256: string;
  gpu: ProofPart;
}

export interface HardwareOutcome {
  measured: Measured | null;
  proof: ProofReport;
  /** The verdict the rental earns, when it earns one. */
  failure?: { verdict: 'PROOF_FAILED' | 'HARDWARE_MISMATCH'; reason: string };
  /** Every shortfall found (the first is the reason of HARDWARE_MISMATCH). */
  shortfalls: string[];
}

class ProofFailure extends Error {}

const part = (blocks: number, reason: string | null = null): ProofPart => ({
  ok: null, seconds: null, limit_seconds: null, blocks, opened: [], workers: null, root: null, reason,
});

/** Where the probe lives in the rental: a fresh directory in /dev/shm (memory, gone with the container). */
export const probeDir = (): string => `/dev/shm/cm-probe-${randomBytes(8).toString('hex')}`;

/** The command that prints a file's sha256 with the container's own python3 (the path is ours, hex only). */
export const sha256Command = (path: string) =>
  `python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' ${path}`;

const parseLine = (line: string, what: string): Record<string, unknown> => {
  try {
    const v = JSON.parse(line) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // below
  }
  throw new ProofFailure(`${what}: the probe printed something that is not a JSON object: ${JSON.stringify(line.slice(0, 120))}`);
};

/** Runs the whole hardware check; never throws (an SSH failure mid-way is a failed proof). */
export async function checkHardware(
  session: SshSession, asked: Asked, claims: SpecsOutput | null, opts: HardwareOptions = {}, budgetMs: () => number = () => Infinity,
): Promise<HardwareOutcome> {
  const cpuParams = opts.cpuProof ?? DEFAULT_CPU_PROOF;
  const gpuParams = opts.gpuProof ?? DEFAULT_GPU_PROOF;
  const step = () => Math.max(1, Math.min(opts.stepTimeoutMs ?? DEFAULT_HARDWARE_STEP_TIMEOUT_MS, budgetMs()));
  const proof: ProofReport = { ...part(cpuParams.blocks), program_sha256: PROBE_SHA256, gpu: part(gpuParams.blocks) };
  let measured: Measured | null = null;
  let program: LineProgram | undefined;
  let running: ProofPart | undefined;
  const dir = probeDir();
  const path = `${dir}/probe.py`;

  /** Any stderr output fails the rental, as in the reference validator: checked after every answer and at the end. */
  function stderrClean(): void {
    const text = program?.stderr() ?? '';
    if (text !== '') throw new ProofFailure(`the probe wrote to stderr: ${text.trim().slice(0, 300)}`);
  }

  /** Sends the seed, times the commitment, opens the chosen blocks and checks them. */
  async function prove(kind: ProofKind, params: ProofParams, units: number, maxBlockSeconds: number, into: ProofPart): Promise<void> {
    running = into;
    const seed = newSeed();
    const limit = commitLimitSeconds(params, units, maxBlockSeconds, opts.graceSeconds ?? DEFAULT_PROOF_GRACE_SECONDS);
    into.limit_seconds = limit;
    const wait = Math.min(limit * 1000, budgetMs());
    const t0 = performance.now();
    program!.write(JSON.stringify({ op: 'commit', kind, seed: seed.toString('hex'), n: params.n, p: params.p, rounds: params.rounds, blocks: params.blocks }));
    let line: string;
    try {
      line = await program!.nextLine(wait, `${kind} commitment`);
    } catch (err) {
      if (err instanceof TimeoutError) {
        throw new ProofFailure(wait < limit * 1000
          ? `${kind} proof: the check's deadline passed before the commitment arrived`
          : `${kind} proof: too slow for ${units} ${kind === 'cpu' ? 'core' : 'GPU'}${units === 1 ? '' : 's'}: no commitment within ${limit.toFixed(1)} s (deadline passed)`);
      }
      throw err;
    }
    into.seconds = (performance.now() - t0) / 1000;
    stderrClean();
    const commit = parseLine(line, `${kind} commitment`);
    if (commit.root === null && kind === 'gpu') {
      into.reason = typeof commit.reason === 'string' ? commit.reason : 'no GPU';
      into.seconds = null;
      return;
    }
    if (typeof commit.root !== 'string') throw new ProofFailure(`${kind} proof: no root in the commitment`);
    into.root = commit.root;
    into.workers = typeof commit.workers === 'number' ? commit.workers : null;
    // Drawn only now: the root is fixed before the miner can know which blocks are opened.
    const indices = chooseIndices(params.blocks, params.openings);
    into.opened = indices;
    program!.write(JSON.stringify({ op: 'open', indices }));
    const openWait = Math.min((opts.openingDeadlineSeconds ?? DEFAULT_OPENING_DEADLINE_SECONDS) * 1000, budgetMs());
    let opened: string;
    try {
      opened = await program!.nextLine(openWait, `${kind} openings`);
    } catch (err) {
      if (err instanceof TimeoutError) throw new ProofFailure(`${kind} proof: no openings within ${(openWait / 1000).toFixed(1)} s (deadline passed)`);
      throw err;
    }
    const problem = openingsProblem(seed, params, commit.root, indices, parseLine(opened, `${kind} openings`).openings);
    if (problem) throw new ProofFailure(`${kind} proof: ${problem}`);
    into.ok = true;
    running = undefined;
  }

  try {
    await session.mkdir(dir, step());
    await session.upload(path, PROBE_PROGRAM, step());
    const hashed = await session.exec(sha256Command(path), step());
    if (hashed.stderr !== '' || hashed.code !== 0) throw new ProofFailure(`the sha256 check failed (exit ${hashed.code}): ${hashed.stderr.trim().slice(0, 300)}`);
    if (hashed.stdout.trim() !== PROBE_SHA256) throw new ProofFailure(`the uploaded program's sha256 in the container is ${hashed.stdout.trim().slice(0, 64)}, not ${PROBE_SHA256}`);

    program = await session.start(`python3 -u ${path}`, step());
    const first = parseLine(await program.nextLine(step(), 'measurements'), 'measurements');
    stderrClean();
    try {
      measured = parseMeasured(first.measured);
    } catch (err) {
      throw new ProofFailure((err as Error).message);
    }

    await prove('cpu', cpuParams, asked.cpu.count, opts.maxCpuBlockSeconds ?? DEFAULT_MAX_CPU_BLOCK_SECONDS, proof);
    if (measured.gpus.length > 0) {
      await prove('gpu', gpuParams, measured.gpus.length, opts.maxGpuBlockSeconds ?? DEFAULT_MAX_GPU_BLOCK_SECONDS, proof.gpu);
    } else {
      proof.gpu.reason = `no GPU in the rental: ${measured.detail.gpu_note ?? 'none found'}`;
    }

    program.write(JSON.stringify({ op: 'exit' }));
    let code: number | null;
    try {
      code = await withTimeout(program.exited, step(), 'exit');
    } catch {
      throw new ProofFailure('the probe did not exit when told to');
    }
    stderrClean();
    if (code !== 0) throw new ProofFailure(`the probe exited with ${code}`);
  } catch (err) {
    program?.close();
    const reason = err instanceof ProofFailure ? err.message : `the probe could not run: ${(err as Error).message}`;
    // The whole proof fails, and so does the part that was running.
    proof.ok = false;
    if (running) running.ok = false;
    proof.reason = reason;
    await session.exec(`rm -rf ${dir}`, 2000).catch(() => undefined);
    return { measured, proof, failure: { verdict: 'PROOF_FAILED', reason }, shortfalls: measured ? shortfalls(measured, asked, claims, opts.tolerances ?? DEFAULT_TOLERANCES) : [] };
  }
  await session.exec(`rm -rf ${dir}`, 2000).catch(() => undefined);
  const found = shortfalls(measured, asked, claims, opts.tolerances ?? DEFAULT_TOLERANCES);
  if (found.length > 0) return { measured, proof, failure: { verdict: 'HARDWARE_MISMATCH', reason: `gives less than asked or claimed: ${found.join('; ')}` }, shortfalls: found };
  return { measured, proof, shortfalls: [] };
}
