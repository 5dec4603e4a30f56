// `validator challenge URL --difficulty N [--rounds K]`: sends fresh proof-of-work challenges,
// verifies every answer and prints the solve times.
import { DEFAULT_MAX_DIFFICULTY } from '../../protocol/index.js';
import { percentile } from '../stats.js';
import { DEFAULT_CHALLENGE_TIMEOUT_SECONDS, runChallenges, type ChallengeRound } from '../validator/challenge.js';
import { COMMON_USAGE, minerUrl, openDendrite, parseValidatorArgs, printJson } from './validator-common.js';
import { UsageError } from './usage.js';

const USAGE = `Usage: compute-miner validator challenge URL --difficulty N [--rounds K] [--timeout S] [options]
  --difficulty N        password length, 1–${DEFAULT_MAX_DIFFICULTY}
  --rounds K            challenges sent one after another [1]
  --timeout S           seconds to wait for each answer [${DEFAULT_CHALLENGE_TIMEOUT_SECONDS}]
${COMMON_USAGE}
`;

function wholeNumber(flag: string, raw: string | undefined, fallback: number | undefined, min: number, max: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`${flag} is required`);
    return fallback;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`${flag} must be a whole number ${min}–${max}, not ${JSON.stringify(raw)}`);
  return Number(raw);
}

function line(r: ChallengeRound): string {
  const solved = r.localExecutionTime === null ? '' : ` solved in ${r.localExecutionTime.toFixed(3)} s`;
  return `round ${r.round}: ${r.verified ? 'OK' : 'FAILED'} ${r.latencyMs.toFixed(0)} ms round trip${solved}${r.error ? ` (${r.error})` : ''}\n`;
}

export async function runChallenge(argv: string[]): Promise<number> {
  const { values, positionals } = parseValidatorArgs(argv, { difficulty: { type: 'string' }, rounds: { type: 'string' }, timeout: { type: 'string' } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('validator challenge takes exactly one miner URL');
  const url = minerUrl(positionals[0]);
  const difficulty = wholeNumber('--difficulty', values.difficulty, undefined, 1, DEFAULT_MAX_DIFFICULTY);
  const rounds = wholeNumber('--rounds', values.rounds, 1, 1, 10_000);
  const timeoutSeconds = wholeNumber('--timeout', values.timeout, DEFAULT_CHALLENGE_TIMEOUT_SECONDS, 1, 3600);
  const dendrite = openDendrite(url, values, (timeoutSeconds + 5) * 1000);
  try {
    const results = await runChallenges(dendrite, { difficulty, rounds, timeoutSeconds, onRound: (r) => { if (!values.json) process.stdout.write(line(r)); } });
    const ok = results.filter((r) => r.verified);
    const times = ok.map((r) => r.latencyMs).sort((a, b) => a - b);
    if (values.json) {
      printJson({ difficulty, rounds: results, verified: ok.length, total: results.length, ...(times.length ? { p50Ms: percentile(times, 50), maxMs: times[times.length - 1] } : {}) });
      return ok.length === results.length ? 0 : 3;
    }
    process.stdout.write(
      `${ok.length}/${results.length} verified` +
        (times.length ? `; round trip p50 ${percentile(times, 50).toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms` : '') + '\n',
    );
    return ok.length === results.length ? 0 : 3;
  } finally {
    await dendrite.close();
  }
}
