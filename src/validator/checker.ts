// The miner checker: read a miner's Specs, ask whether it can take a test allocation, rent a
// test container with a fresh RSA key, decrypt the credentials, log in over SSH, prove what the
// rental really gives (hardware.ts: measurements and a timed, committed workload), and release
// it again. Each miner ends with exactly one verdict (the reference checker's codes plus two for
// the hardware, and two that penalise nobody: the miner is busy, or does not let this validator
// in), within its own deadline, and a miner that hangs or lies never holds up the others.
import {
  allocateResponseSchema, parseWith, specsResponseSchema, type AllocateResponse, type Hotkey, type SpecsOutput,
} from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { decryptAllocationInfo, generateRenterKeyPairAsync } from './credentials.js';
import { Dendrite } from './dendrite.js';
import type { DeviceRequirement } from './device.js';
import { isBusyAnswer, refusalOfReply, type Totals } from './refusals.js';
import { releaseRequest, rentalHost } from './rent.js';
import { checkHardware, type HardwareOptions, type ProofReport } from './hardware.js';
import type { Measured } from './measure.js';
import { sshRun, type SshLogin } from './ssh-login.js';
import { SshSession } from './ssh-session.js';

export const VERDICTS = [
  'OK', 'ALLOCATION_FAILED', 'ALLOCATION_ERROR', 'SSH_ACCESS_DISABLED', 'DEALLOCATION_FAILED', 'PROOF_FAILED', 'HARDWARE_MISMATCH',
  'BUSY', 'NOT_ALLOWED',
] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Verdicts that are no fault of the miner: it is not penalised for them. */
export const NOT_PENALISED: ReadonlySet<Verdict> = new Set<Verdict>(['OK', 'BUSY', 'NOT_ALLOWED']);

export function isPenalised(verdict: Verdict): boolean {
  return !NOT_PENALISED.has(verdict);
}

/** What each verdict means, also the `description` of the penalised list. */
export const VERDICT_MEANING: Record<Verdict, string> = {
  OK: 'allocated, logged in over SSH, hardware proven as asked and claimed, and released',
  ALLOCATION_FAILED: 'the miner refused the test allocation',
  ALLOCATION_ERROR: 'the miner failed to answer, answered with a bad or unsigned reply, or sent credentials that do not decrypt',
  SSH_ACCESS_DISABLED: 'the credentials did not open an SSH session',
  DEALLOCATION_FAILED: 'the test allocation could not be released after retries',
  PROOF_FAILED: 'the proof of hardware failed: a changed program, output on stderr, a wrong opening, too slow for the asked hardware, or a deadline passed',
  HARDWARE_MISMATCH: 'the rental gives less than was asked or than Specs claim (cores, memory, disk, GPU count or model)',
  BUSY: 'the miner has no room for the test rental now (rented out, or its queue is full): not penalised, check again later',
  NOT_ALLOWED: "the miner does not let this validator's hotkey in (403): the validator's key is the matter, the miner is not penalised",
};

/** Said of an OK miner checked without the proof of hardware (the reference checker's extent). */
export const OK_WITHOUT_PROOF = 'allocated, logged in over SSH and released (hardware not checked)';

export type StepName = 'specs' | 'check' | 'allocate' | 'ssh' | 'proof' | 'deallocate';

export interface StepTiming {
  step: StepName;
  ms: number;
  ok: boolean;
  /** Attempts made (de-allocation retries). */
  attempts?: number;
}

export interface CheckTarget {
  /** ws://host:port of the miner's axon. */
  url: string;
  /** SS58 of the miner; read from its /health when absent. */
  axonHotkey?: string;
}

export interface CheckResult {
  url: string;
  /** The miner's hotkey as given or as learned from /health; undefined when never learned. */
  hotkey?: string;
  verdict: Verdict;
  /** One line: why this verdict. */
  reason: string;
  steps: StepTiming[];
  totalMs: number;
  /** What the rental gives, as the probe measured it; null when it never ran. */
  measured: Measured | null;
  /** The proof of hardware; null when it never ran (or was not asked for). */
  proof: ProofReport | null;
  /** Every shortfall against what was asked or claimed. */
  shortfalls: string[];
  /** The test allocation's device_requirement. */
  asked: DeviceRequirement;
  /** The miner's Specs as it answered them; null when it did not. */
  claims: SpecsOutput | null;
}

export type { DeviceRequirement };

/** The reference checker's request: 1 core, 1 GiB of memory, 1 GiB of disk, no GPU. */
export const DEFAULT_CHECK_DEVICE: DeviceRequirement = Object.freeze({
  cpu: { count: 1 },
  ram: { capacity: 1024 ** 3 },
  hard_disk: { capacity: 1024 ** 3 },
  gpu: {},
}) as DeviceRequirement;

export const DEFAULT_CHECK_DEADLINE_MS = 120_000;
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 60;
/** A test rental: one hour, released by the checker long before. */
export const DEFAULT_TEST_TIMELINE_DAYS = 1 / 24;
export const DEFAULT_SSH_COMMAND = 'echo ok';
export const DEFAULT_SSH_TIMEOUT_MS = 15_000;
export const DEFAULT_DEALLOCATE_ATTEMPTS = 3;
export const DEFAULT_DEALLOCATE_BACKOFF_MS = 1_000;
export const DEFAULT_CHECK_CONCURRENCY = 8;
/** Longest wait for the Specs reply: Specs only inform the comparison, so they never take the deadline [10 s]. */
export const DEFAULT_SPECS_TIMEOUT_SECONDS = 10;
/** Time kept back from the proof for the release, so a slow proof never costs the cleanup [10 s]. */
export const DEFAULT_RELEASE_RESERVE_MS = 10_000;

export interface CheckDeps {
  /** The validator's hotkey that signs every request. */
  hotkey: Hotkey;
  /** Overall budget per miner, every step and retry included [120 s]. */
  deadlineMs?: number;
  /** Longest wait for one reply, capped by what is left of the deadline [60 s]. */
  requestTimeoutSeconds?: number;
  device?: DeviceRequirement;
  /** `timeline` of the test allocation, days [1/24]. */
  timelineDays?: number;
  sshCommand?: string;
  /** Budget of the SSH login + command, capped by the deadline [15 s]. */
  sshTimeoutMs?: number;
  /** De-allocation attempts [3], with back-off doubling from `deallocateBackoffMs` [1 s]. */
  deallocateAttempts?: number;
  deallocateBackoffMs?: number;
  /** A fresh RSA key pair per miner [RSA-2048, made off the event loop]. */
  renterKeys?: () => Promise<{ publicKeyPem: string; privateKeyPem: string }>;
  /**
   * The proof of hardware over the SSH session [on, with hardware.ts's defaults]; `false` only
   * logs in and runs `sshCommand`, as the reference checker does.
   */
  hardware?: HardwareOptions | false;
  /** Longest wait for the Specs reply [DEFAULT_SPECS_TIMEOUT_SECONDS]. */
  specsTimeoutSeconds?: number;
  /** Time kept back from the proof for the release [DEFAULT_RELEASE_RESERVE_MS]. */
  releaseReserveMs?: number;
  /** SSH login used to prove the credentials when `hardware` is false [ssh2]. */
  ssh?: (login: SshLogin) => Promise<string>;
  log?: Logger;
}

class DeadlineError extends Error {}

/** Rejects with DeadlineError when `ms` pass first; the work itself is left to finish or fail. */
function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  if (ms <= 0) {
    work.catch(() => undefined);
    return Promise.reject(new DeadlineError(`deadline passed before ${what}`));
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineError(`${what}: no answer within the miner's deadline`)), ms);
    work.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e: unknown) => { clearTimeout(timer); reject(e); },
    );
  });
}

/** An error's message, with the cause's code when there is one (`fetch failed` alone says little). */
function message(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return detail ? `${err.message} (${detail})` : err.message;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

type AllocateAnswer = { kind: 'output'; output: AllocateResponse['output'] } | { kind: 'refused'; reason: string; code: number; message: string };

/** What a test rental asks for, as totals to hold against a miner's Specs. */
function askedTotals(device: DeviceRequirement): Totals {
  const gpu = device.gpu.count === 'all' ? 1 : device.gpu.count ?? 0;
  return { cpu: device.cpu.count, ram: device.ram.capacity, disk: device.hard_disk.capacity, gpu };
}

function specsTotals(specs: SpecsOutput): Totals {
  return { cpu: specs.cpu.count, ram: specs.ram.total, disk: specs.hard_disk.total, gpu: specs.gpu.count };
}

/** Checks one miner; never throws, and its one verdict comes within `deadlineMs` (the socket closes afterwards). */
export async function checkMiner(target: CheckTarget, deps: CheckDeps): Promise<CheckResult> {
  const started = performance.now();
  const deadlineMs = deps.deadlineMs ?? DEFAULT_CHECK_DEADLINE_MS;
  const left = () => deadlineMs - (performance.now() - started);
  const requestTimeout = deps.requestTimeoutSeconds ?? DEFAULT_REQUEST_TIMEOUT_SECONDS;
  const device = deps.device ?? DEFAULT_CHECK_DEVICE;
  const steps: StepTiming[] = [];

  let dendrite: Dendrite | undefined;
  let verdict: Verdict | undefined;
  let reason = '';
  const fail = (v: Verdict, why: string) => {
    if (verdict !== undefined) return; // the first failure is the verdict
    verdict = v;
    reason = why;
  };
  // Whether a container may exist for our key: 'yes' after status true, 'maybe' while the
  // allocate request is out or got no clear answer.
  let allocated: 'no' | 'maybe' | 'yes' = 'no';
  let keys: { publicKeyPem: string; privateKeyPem: string } | undefined;
  let sshFailure: string | undefined;
  let hardwareFailure: { verdict: Verdict; reason: string } | undefined;
  let measured: Measured | null = null;
  let proof: ProofReport | null = null;
  let found: string[] = [];
  let claims: SpecsOutput | null = null;
  const hardware = deps.hardware ?? {};

  /** One Allocate request, its reply checked against the protocol; a refusal is not an error. */
  async function allocate(body: Record<string, unknown>, what: string): Promise<AllocateAnswer> {
    const seconds = Math.max(0.001, Math.min(requestTimeout, left() / 1000));
    const reply = await within(dendrite!.call('Allocate', body, { timeoutSeconds: seconds }), left(), what);
    const answered = `${what}: miner answered ${reply.code} ${reply.message}`;
    // A timeout or a crash is the miner failing (as in the reference, where no reply is an
    // exception); a busy, denied or invalid-request answer is the miner refusing.
    if (reply.code === 408 || reply.code === 500) throw new Error(answered);
    if (reply.code !== 200) return { kind: 'refused', reason: answered, code: reply.code, message: reply.message };
    const parsed = parseWith(allocateResponseSchema, reply.body);
    if (!parsed.ok) throw new Error(`${what}: reply does not match the protocol: ${parsed.message}`);
    return { kind: 'output', output: parsed.value.output };
  }

  async function timed<T>(step: StepName, work: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
    const t0 = performance.now();
    try {
      const value = await work();
      steps.push({ step, ms: performance.now() - t0, ok: ok(value) });
      return value;
    } catch (err) {
      steps.push({ step, ms: performance.now() - t0, ok: false });
      throw err;
    }
  }

  const granted = (a: AllocateAnswer) => a.kind === 'output' && a.output.status;
  const refusal = (what: string, a: AllocateAnswer) =>
    a.kind === 'refused' ? a.reason : `${what}: ${a.output.error ?? 'status false'}`;
  // A refusal is the miner's fault unless it refused this validator's hotkey or has no room now
  // (a lack of what its Specs say it has counts as no room).
  const refusedVerdict = (a: AllocateAnswer): Verdict => {
    const kind = a.kind === 'refused'
      ? refusalOfReply(a.code, a.message)
      : isBusyAnswer(a.output.error ?? '', askedTotals(device), claims ? specsTotals(claims) : undefined) ? 'busy' : undefined;
    return kind === 'not_allowed' ? 'NOT_ALLOWED' : kind === 'busy' ? 'BUSY' : 'ALLOCATION_FAILED';
  };
  /** Ends with the verdict of a refusal; a refused hotkey is named, so the validator knows which key to get allowed. */
  const refused = (what: string, a: AllocateAnswer) => {
    const v = refusedVerdict(a);
    fail(v, v === 'NOT_ALLOWED' ? `${refusal(what, a)} (validator hotkey ${deps.hotkey.ss58Address})` : refusal(what, a));
  };

  async function allocateAndLogIn(): Promise<void> {
    dendrite = new Dendrite({
      hotkey: deps.hotkey,
      url: target.url,
      axonHotkey: target.axonHotkey,
      timeoutMs: Math.max(1, Math.min(requestTimeout * 1000, deadlineMs)),
      log: deps.log,
    });

    if (hardware !== false) {
      // What the miner claims, to compare the rental's machine with. A miner that does not
      // answer Specs is not penalised for it; its rental is then compared with the request only.
      try {
        claims = await timed('specs', async () => {
          const seconds = Math.max(0.001, Math.min(deps.specsTimeoutSeconds ?? DEFAULT_SPECS_TIMEOUT_SECONDS, left() / 1000));
          const reply = await within(dendrite!.call('Specs', {}, { timeoutSeconds: seconds }), Math.min(seconds * 1000, left()), 'specs');
          if (reply.code !== 200) throw new Error(`specs: miner answered ${reply.code} ${reply.message}`);
          const parsed = parseWith(specsResponseSchema, reply.body);
          if (!parsed.ok) throw new Error(`specs: ${parsed.message}`);
          return parsed.value.specs_output;
        }, () => true);
      } catch {
        claims = null;
      }
    }

    const check = await timed('check', () => allocate({ checking: true, timeline: 1, device_requirement: device }, 'check'), granted);
    if (!granted(check)) return refused('check', check);

    keys = await within((deps.renterKeys ?? generateRenterKeyPairAsync)(), left(), 'key generation');
    const request = {
      checking: false,
      timeline: deps.timelineDays ?? DEFAULT_TEST_TIMELINE_DAYS,
      device_requirement: { ...device, testing: true },
      public_key: keys.publicKeyPem,
    };
    allocated = 'maybe';
    const answer = await timed('allocate', () => allocate(request, 'allocate'), granted);
    if (answer.kind === 'refused' || !answer.output.status) {
      allocated = 'no';
      return refused('allocate', answer);
    }
    allocated = 'yes';
    if (answer.output.info === undefined) return fail('ALLOCATION_ERROR', 'allocate: status true but no info');
    let credentials;
    try {
      credentials = decryptAllocationInfo(answer.output.info, keys.privateKeyPem);
    } catch (err) {
      return fail('ALLOCATION_ERROR', `allocate: ${message(err)}`);
    }

    let host: string;
    try {
      host = rentalHost(target.url, answer.output.host);
    } catch (err) {
      return fail('ALLOCATION_ERROR', `allocate: ${message(err)}`);
    }
    const budget = Math.min(deps.sshTimeoutMs ?? DEFAULT_SSH_TIMEOUT_MS, left());
    const login: SshLogin = {
      host,
      port: credentials.port,
      username: credentials.username,
      password: credentials.password,
      command: deps.sshCommand ?? DEFAULT_SSH_COMMAND,
      timeoutMs: Math.max(1, budget),
      // The host keys of the signed reply: a login that meets another host fails, naming the key it met.
      ...(answer.output.host_keys ? { hostKeys: answer.output.host_keys } : {}),
    };
    if (hardware === false) {
      try {
        await timed('ssh', () => within((deps.ssh ?? sshRun)(login), budget, 'ssh'), () => true);
      } catch (err) {
        // The reference reports a failed release before a failed login: applied after release.
        sshFailure = `root@${host} port ${credentials.port}: ${message(err)}`;
      }
      return;
    }
    let session: SshSession;
    try {
      session = await timed('ssh', () => within(SshSession.open({ ...login, timeoutMs: Math.max(1, budget) }), budget, 'ssh'), () => true);
    } catch (err) {
      sshFailure = `root@${host} port ${credentials.port}: ${message(err)}`;
      return;
    }
    try {
      const reserve = deps.releaseReserveMs ?? DEFAULT_RELEASE_RESERVE_MS;
      const outcome = await timed('proof', () => checkHardware(session, device, claims, hardware, () => left() - reserve), (o) => o.failure === undefined);
      measured = outcome.measured;
      proof = outcome.proof;
      found = outcome.shortfalls;
      if (outcome.failure) hardwareFailure = outcome.failure;
    } finally {
      session.close();
    }
  }

  /**
   * De-allocation with retries and back-off. Only the release of a container known to exist
   * decides the verdict; after an unclear allocate it is one best-effort cleanup.
   */
  async function release(publicKeyPem: string): Promise<void> {
    const known = allocated === 'yes';
    const attempts = known ? deps.deallocateAttempts ?? DEFAULT_DEALLOCATE_ATTEMPTS : 1;
    let backoff = deps.deallocateBackoffMs ?? DEFAULT_DEALLOCATE_BACKOFF_MS;
    const t0 = performance.now();
    let lastError = '';
    let made = 0;
    while (made < attempts) {
      made++;
      try {
        const answer = await allocate(releaseRequest(publicKeyPem), 'deallocate');
        if (granted(answer)) {
          steps.push({ step: 'deallocate', ms: performance.now() - t0, ok: true, attempts: made });
          allocated = 'no';
          return;
        }
        lastError = refusal('deallocate', answer);
      } catch (err) {
        lastError = message(err);
      }
      if (made === attempts || left() <= 0) break;
      await sleep(Math.min(backoff, left()));
      backoff *= 2;
    }
    steps.push({ step: 'deallocate', ms: performance.now() - t0, ok: false, attempts: made });
    if (known) fail('DEALLOCATION_FAILED', `${lastError} (after ${made} attempt${made === 1 ? '' : 's'})`);
  }

  try {
    await allocateAndLogIn();
  } catch (err) {
    fail('ALLOCATION_ERROR', message(err));
  }
  if (allocated !== 'no' && keys && dendrite) await release(keys.publicKeyPem);
  if (sshFailure !== undefined) fail('SSH_ACCESS_DISABLED', sshFailure);
  if (hardwareFailure !== undefined) fail(hardwareFailure.verdict, hardwareFailure.reason);
  const totalMs = performance.now() - started;
  void dendrite?.close().catch(() => undefined);
  return {
    url: target.url,
    hotkey: dendrite?.axonHotkey ?? target.axonHotkey,
    verdict: verdict ?? 'OK',
    reason: verdict === undefined ? (hardware === false ? OK_WITHOUT_PROOF : VERDICT_MEANING.OK) : reason,
    steps,
    totalMs,
    measured,
    proof,
    shortfalls: found,
    asked: device,
    claims,
  };
}

export interface CheckManyOptions extends CheckDeps {
  /** Miners checked at once [8]. */
  concurrency?: number;
  /** Called as each miner's verdict is known. */
  onResult?: (result: CheckResult) => void;
}

/** Checks every target with at most `concurrency` at once; results in the targets' order. */
export async function checkMiners(targets: CheckTarget[], options: CheckManyOptions): Promise<CheckResult[]> {
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CHECK_CONCURRENCY);
  const results: CheckResult[] = new Array(targets.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < targets.length) {
      const index = next++;
      const result = await checkMiner(targets[index]!, options);
      results[index] = result;
      options.onResult?.(result);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, () => worker()));
  return results;
}

/** The reference's penalised list: one entry per miner at fault (not OK, busy or refusing this validator). */
export function penalisedList(results: CheckResult[]): { hotkey: string | null; url: string; status_code: Verdict; description: string }[] {
  return results
    .filter((r) => isPenalised(r.verdict))
    .map((r) => ({ hotkey: r.hotkey ?? null, url: r.url, status_code: r.verdict, description: r.reason }));
}
