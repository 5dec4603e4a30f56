// `validator challenge URL --difficulty N [--rounds K]`: sends fresh proof-of-work challenges,
// verifies every answer and prints the solve times. Only a wrong, missing or late answer is the
// miner's fault (exit 3); a miner that does not let this hotkey in (5) or is busy (6) is not.
import { DEFAULT_MAX_DIFFICULTY } from '../../protocol/index.js';
import { percentile } from '../stats.js';
import { DEFAULT_CHALLENGE_TIMEOUT_SECONDS, runChallenges, type ChallengeRound } from '../validator/challenge.js';
import { COMMON_USAGE, minerUrl, openDendrite, parseValidatorArgs, printJson } from './validator-common.js';
import { notAllowedMessage } from '../validator/refusals.js';
import { EXIT_BUSY, EXIT_DONE, EXIT_MINER_FAULT, EXIT_NOT_ALLOWED } from './exit-codes.js';
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

/** What a round says of the miner: OK, FAILED (its fault), or the refusal that is nobody's fault. */
function outcome(r: ChallengeRound): string {
  if (r.verified) return 'OK';
  if (r.refusal === 'not_allowed') return 'NOT ALLOWED';
  if (r.refusal === 'busy') return 'BUSY';
  return 'FAILED';
}

function line(r: ChallengeRound): string {
  const solved = r.localExecutionTime === null ? '' : ` solved in ${r.localExecutionTime.toFixed(3)} s`;
  return `round ${r.round}: ${outcome(r)} ${r.latencyMs.toFixed(0)} ms round trip${solved}${r.error ? ` (${r.error})` : ''}\n`;
}

/** The exit status of the rounds: a fault of the miner first, then a refused hotkey, then a busy miner. */
export function challengeExitCode(rounds: ChallengeRound[]): number {
  if (rounds.some((r) => outcome(r) === 'FAILED')) return EXIT_MINER_FAULT;
  if (rounds.some((r) => r.refusal === 'not_allowed')) return EXIT_NOT_ALLOWED;
  if (rounds.some((r) => r.refusal === 'busy')) return EXIT_BUSY;
  return EXIT_DONE;
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
    const code = challengeExitCode(results);
    const refused = results.find((r) => r.refusal === 'not_allowed');
    // Said on stderr in both forms: the validator's own key is the matter, not the miner.
    if (refused) process.stderr.write(`error: ${notAllowedMessage(dendrite.dendriteHotkey, `${refused.code} ${refused.error}`)}\n`);
    if (values.json) {
      printJson({ difficulty, rounds: results, verified: ok.length, total: results.length, ...(times.length ? { p50Ms: percentile(times, 50), maxMs: times[times.length - 1] } : {}) });
      return code;
    }
    process.stdout.write(
      `${ok.length}/${results.length} verified` +
        (times.length ? `; round trip p50 ${percentile(times, 50).toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms` : '') + '\n',
    );
    return code;
  } finally {
    await dendrite.close();
  }
}
