// The command line's exit statuses, one meaning each, so a script can tell "the miner is at
// fault" from "this validator is not let in" and "the miner is busy", and the errors that
// carry the last two from deep in a command to src/cli.ts.

export const EXIT_DONE = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** A check or challenge found the miner at fault (a wrong answer, a failed rental, a lie). */
export const EXIT_MINER_FAULT = 3;
/** Another miner holds the data dir. */
export const EXIT_DATA_DIR_LOCKED = 4;
/** The miner refused this validator's hotkey (403): the caller's key, not the miner, is the matter. */
export const EXIT_NOT_ALLOWED = 5;
/** The miner has no room now (rented out, its queue full): try later, nobody is at fault. */
export const EXIT_BUSY = 6;

/** The exit statuses as the usage texts list them; the validator's commands never meet a data dir. */
export function exitStatusUsage({ dataDir = true } = {}): string {
  return `Exit status: ${EXIT_DONE} done, ${EXIT_FAILED} failed, ${EXIT_USAGE} a usage mistake, ${EXIT_MINER_FAULT} the miner is at fault,\n` +
    (dataDir ? `${EXIT_DATA_DIR_LOCKED} the data dir is in use, ` : '') +
    `${EXIT_NOT_ALLOWED} the miner does not let this validator hotkey in, ${EXIT_BUSY} the miner is busy.\n`;
}

/** The miner refused the validator's hotkey. */
export class NotAllowedError extends Error {
  readonly exitCode = EXIT_NOT_ALLOWED;
}

/** The miner has no room now. */
export class BusyError extends Error {
  readonly exitCode = EXIT_BUSY;
}

/** The exit status an error that ends a command stands for. */
export function exitCodeOf(err: unknown): number {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' ? code : EXIT_FAILED;
}
