// `validator check URL...`: the miner checker. Rents a test container from each miner, logs in
// over SSH, proves the rental's hardware and releases it; prints one verdict per miner with its
// timings, and can write the penalised list (the reference checker's penalized_hotkeys.json)
// and a full report (measurements and proof) for the validator.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isSs58 } from '../../protocol/index.js';
import {
  checkMiners, DEFAULT_CHECK_CONCURRENCY, DEFAULT_CHECK_DEADLINE_MS, DEFAULT_CHECK_DEVICE, isPenalised, penalisedList, type CheckResult, type CheckTarget,
  type DeviceRequirement, type StepName,
} from '../validator/checker.js';
import { formatSize, parseSize } from '../validator/sizes.js';
import { fileErrorWords } from '../errno-words.js';
import { explainNetworkError } from './net-errors.js';
import { COMMON_USAGE, minerUrl, parseValidatorArgs, printJson, validatorHotkey } from './validator-common.js';
import { EXIT_BUSY, EXIT_DONE, EXIT_MINER_FAULT, EXIT_NOT_ALLOWED } from './exit-codes.js';
import { UsageError } from './usage.js';

/** Exit code when the checks ran and at least one miner was penalised. */
export const EXIT_PENALISED = EXIT_MINER_FAULT;

const USAGE = `Usage: compute-miner validator check URL... [options]
Rents a test container from each miner, logs in over SSH, measures and proves its hardware,
releases it, and prints a verdict: OK, ALLOCATION_FAILED, ALLOCATION_ERROR, SSH_ACCESS_DISABLED,
DEALLOCATION_FAILED, PROOF_FAILED or HARDWARE_MISMATCH; or, penalising nobody, BUSY (no room
for the test rental now) or NOT_ALLOWED (the miner does not let this validator's hotkey in).
  --file FILE           more miners, one per line: URL [HOTKEY]  (# starts a comment)
  --concurrency N       miners checked at once [${DEFAULT_CHECK_CONCURRENCY}]
  --timeout S           overall deadline per miner, every step included [${DEFAULT_CHECK_DEADLINE_MS / 1000}]
  --penalised FILE      write the penalised miners: [{hotkey, url, status_code, description}]
  --report FILE         write every miner's verdict, steps, measurements and proof (JSON list)
  --cpu N               cores of the test container [${DEFAULT_CHECK_DEVICE.cpu.count}]
  --ram SIZE            memory of the test container [${formatSize(DEFAULT_CHECK_DEVICE.ram.capacity)}]
  --disk SIZE           disk of the test container [${formatSize(DEFAULT_CHECK_DEVICE.hard_disk.capacity)}]
  --gpu N               GPUs of the test container [0]
  --no-proof            only log in over SSH (the reference checker's extent): no measurements, no proof
${COMMON_USAGE}
Here: ${EXIT_DONE} all OK, ${EXIT_PENALISED} some miner penalised; else ${EXIT_NOT_ALLOWED} some miner refused this hotkey; else ${EXIT_BUSY} some miner was busy.
`;

/** Parses a miners file: `URL [HOTKEY]` per line, blank lines and # comments ignored. */
export function parseMinersFile(text: string, name = 'miners file'): CheckTarget[] {
  const targets: CheckTarget[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const [url, hotkey, ...rest] = line.split(/\s+/);
    const where = `${name}:${index + 1}`;
    if (rest.length > 0) throw new UsageError(`${where}: expected "URL [HOTKEY]"`);
    if (hotkey !== undefined && !isSs58(hotkey)) throw new UsageError(`${where}: ${JSON.stringify(hotkey)} is not an SS58 address`);
    let wsUrl: string;
    try {
      wsUrl = minerUrl(url);
    } catch (err) {
      throw new UsageError(`${where}: ${(err as Error).message}`);
    }
    targets.push({ url: wsUrl, ...(hotkey !== undefined ? { axonHotkey: hotkey } : {}) });
  });
  return targets;
}

const STEPS: StepName[] = ['check', 'allocate', 'ssh', 'proof', 'deallocate'];

/** One miner's entry of `--report`: the names of issue-facing fields kept stable. */
export function reportEntry(r: CheckResult): Record<string, unknown> {
  return {
    url: r.url,
    hotkey: r.hotkey ?? null,
    verdict: r.verdict,
    reason: r.reason,
    steps: r.steps.map((s) => ({ ...s, ms: Math.round(s.ms) })),
    total_ms: Math.round(r.totalMs),
    measured: r.measured && {
      cores: r.measured.cores, memory_bytes: r.measured.memory_bytes, disk_bytes: r.measured.disk_bytes, gpus: r.measured.gpus,
      detail: r.measured.detail,
    },
    proof: r.proof,
    shortfalls: r.shortfalls,
    asked: r.asked,
    claims: r.claims && { cpu: r.claims.cpu, gpu: r.claims.gpu, ram: r.claims.ram, hard_disk: r.claims.hard_disk },
  };
}

/** The verdict table; `color` adds ANSI colours to the verdicts. */
export function formatTable(results: CheckResult[], color = false): string {
  const ms = (r: CheckResult, step: StepName) => {
    const s = r.steps.find((x) => x.step === step);
    if (!s) return '-';
    const text = `${Math.round(s.ms)}ms`;
    return s.ok ? text : `${text}✗`;
  };
  const rows = results.map((r) => [
    r.url, r.hotkey ? `${r.hotkey.slice(0, 8)}…` : '?', r.verdict, ...STEPS.map((s) => ms(r, s)), `${Math.round(r.totalMs)}ms`, r.reason,
  ]);
  const header = ['MINER', 'HOTKEY', 'VERDICT', 'CHECK', 'ALLOCATE', 'SSH', 'PROOF', 'RELEASE', 'TOTAL', 'REASON'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // Green OK, yellow for what penalises nobody, red for a fault.
  const paint = (verdict: string, text: string) => {
    if (!color) return text;
    const colour = verdict === 'OK' ? 32 : isPenalised(verdict as CheckResult['verdict']) ? 31 : 33;
    return `\x1b[${colour}m${text}\x1b[0m`;
  };
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const body = rows.map((row) => {
    const text = line(row);
    return row[2] === undefined ? text : text.replace(row[2].padEnd(widths[2]!), paint(row[2], row[2].padEnd(widths[2]!)));
  });
  const count = (verdict: string) => results.filter((r) => r.verdict === verdict).length;
  const penalised = results.filter((r) => isPenalised(r.verdict)).length;
  const spared = [[count('BUSY'), 'busy'], [count('NOT_ALLOWED'), 'not allowed']].filter(([n]) => n).map(([n, what]) => `, ${n} ${what}`).join('');
  return `${[line(header), ...body].join('\n')}\n\n${count('OK')} OK, ${penalised} penalised${spared}\n`;
}

export async function runCheck(argv: string[]): Promise<number> {
  const { values, positionals } = parseValidatorArgs(argv, {
    file: { type: 'string' }, concurrency: { type: 'string' }, timeout: { type: 'string' }, penalised: { type: 'string' },
    report: { type: 'string' }, cpu: { type: 'string' }, ram: { type: 'string' }, disk: { type: 'string' }, gpu: { type: 'string' },
    'no-proof': { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const stray = positionals.find((p) => p.endsWith('.json'));
  if (stray) throw new UsageError(`${JSON.stringify(stray)} is not a miner URL: write the penalised list with --penalised FILE (--json prints results on standard output)`);
  const targets: CheckTarget[] = positionals.map((p) => ({ url: minerUrl(p) }));
  if (values['axon-hotkey'] !== undefined) {
    if (targets.length !== 1 || values.file !== undefined) throw new UsageError('--axon-hotkey goes with exactly one miner URL; give hotkeys in --file otherwise');
    if (!isSs58(values['axon-hotkey'])) throw new UsageError(`--axon-hotkey ${JSON.stringify(values['axon-hotkey'])} is not an SS58 address`);
    targets[0]!.axonHotkey = values['axon-hotkey'];
  }
  if (values.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(values.file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${values.file}: ${fileErrorWords(err)}`);
    }
    targets.push(...parseMinersFile(text, values.file));
  }
  if (targets.length === 0) throw new UsageError('no miners to check: give URLs or --file FILE');
  const integer = (text: string | undefined, flag: string, fallback: number, max: number) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < 1 || n > max) throw new UsageError(`${flag} must be a whole number from 1 to ${max}, not ${JSON.stringify(text)}`);
    return n;
  };
  const concurrency = integer(values.concurrency, '--concurrency', DEFAULT_CHECK_CONCURRENCY, 256);
  let deadlineMs = DEFAULT_CHECK_DEADLINE_MS;
  if (values.timeout !== undefined) {
    const s = Number(values.timeout);
    if (values.timeout.trim() === '' || !Number.isFinite(s) || s <= 0 || s > 3600) throw new UsageError(`--timeout must be seconds > 0 and ≤ 3600, not ${JSON.stringify(values.timeout)}`);
    deadlineMs = s * 1000;
  }
  const size = (text: string | undefined, flag: string, fallback: number) => {
    if (text === undefined) return fallback;
    try {
      return parseSize(text);
    } catch (err) {
      throw new UsageError(`${flag}: ${(err as Error).message}`);
    }
  };
  const gpus = values.gpu === undefined || values.gpu === '0' ? 0 : integer(values.gpu, '--gpu', 0, 64);
  const device: DeviceRequirement = {
    ...DEFAULT_CHECK_DEVICE,
    cpu: { count: integer(values.cpu, '--cpu', DEFAULT_CHECK_DEVICE.cpu.count, 4096) },
    gpu: gpus > 0 ? { count: gpus } : {},
    ram: { capacity: size(values.ram, '--ram', DEFAULT_CHECK_DEVICE.ram.capacity) },
    hard_disk: { capacity: size(values.disk, '--disk', DEFAULT_CHECK_DEVICE.hard_disk.capacity) },
  };
  const hotkey = validatorHotkey(values.hotkey);

  const tty = process.stdout.isTTY === true && !values.json;
  const results = await checkMiners(targets, {
    hotkey, deadlineMs, concurrency, device, ...(values['no-proof'] ? { hardware: false as const } : {}),
    onResult: (r) => {
      if (tty) process.stderr.write(`${r.verdict.padEnd(20)} ${r.url} (${Math.round(r.totalMs)} ms)\n`);
    },
  });
  let written: string | undefined;
  if (values.penalised !== undefined) {
    written = resolve(values.penalised);
    writeFileSync(written, `${JSON.stringify(penalisedList(results), null, 4)}\n`);
  }
  if (values.json) {
    printJson({ results, penalised: penalisedList(results), ...(written ? { penalisedFile: written } : {}) });
  } else {
    process.stdout.write(formatTable(results.map((r) => ({ ...r, reason: explainNetworkError(r.reason) })), tty));
    if (written) process.stdout.write(`penalised list written to ${written}\n`);
  }
  if (values.report !== undefined) {
    const path = resolve(values.report);
    writeFileSync(path, `${JSON.stringify(results.map(reportEntry), null, 2)}\n`);
    (values.json ? process.stderr : process.stdout).write(`report written to ${path}\n`);
  }
  if (results.some((r) => isPenalised(r.verdict))) return EXIT_PENALISED;
  if (results.some((r) => r.verdict === 'NOT_ALLOWED')) return EXIT_NOT_ALLOWED;
  if (results.some((r) => r.verdict === 'BUSY')) return EXIT_BUSY;
  return EXIT_DONE;
}
