// What every validator command shares: the miner's URL, the validator's hotkey, a dendrite.
import { join, resolve } from 'node:path';
import { isSs58 } from '../../protocol/index.js';
import { loadOrCreateHotkey } from '../keystore.js';
import { Dendrite } from '../validator/dendrite.js';
import { renterHome } from '../validator/rental-records.js';
import { parseFlags, type OptionSpec } from '../args.js';
import { notAllowedMessage, refusalOfReply } from '../validator/refusals.js';
import { BusyError, exitStatusUsage, NotAllowedError } from './exit-codes.js';
import { UsageError } from './usage.js';

/** The validator's hotkey file when --hotkey is absent: beside the rental records, in $COMPUTE_MINER_HOME or ~/.compute-miner. */
export function defaultValidatorHotkey(env: Record<string, string | undefined> = process.env): string {
  return join(renterHome(env), 'validator-hotkey.json');
}

/** Options every validator command accepts. */
export const COMMON_OPTIONS = {
  hotkey: { type: 'string' },
  'axon-hotkey': { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec;

/** The common options and `options`, with URLs as positionals; a mistake is one UsageError line, -h/--help wins. */
export function parseValidatorArgs<O extends OptionSpec>(argv: string[], options: O) {
  return parseFlags(argv, { ...COMMON_OPTIONS, ...options });
}

export { printJson } from './json-output.js';

export const COMMON_USAGE = `  --hotkey FILE         the validator's hotkey file, created when missing [${defaultValidatorHotkey()}]
  --axon-hotkey SS58    the miner's hotkey; read from the miner's /health when absent
  --json                print the result as one JSON document on standard output
  -h, --help            this help
${exitStatusUsage({ dataDir: false }).trimEnd()}`;

/** The validator's hotkey at `path`; a new one is announced on stderr with its address. */
export function validatorHotkey(path: string | undefined) {
  const file = resolve(path ?? defaultValidatorHotkey());
  const { hotkey, created } = loadOrCreateHotkey(file);
  if (created) process.stderr.write(`no hotkey at ${file}: created a new validator identity there, address ${hotkey.ss58Address}\n`);
  return hotkey;
}

/** Accepts ws://host:port, http://host:port or host:port; returns the WebSocket URL. */
export function minerUrl(raw: string | undefined): string {
  if (raw === undefined || raw === '') throw new UsageError('the miner URL is missing (e.g. ws://127.0.0.1:8091)');
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `ws://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${JSON.stringify(raw)} is not a URL (e.g. ws://127.0.0.1:8091)`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new UsageError(`${JSON.stringify(raw)}: the scheme must be ws://, wss://, http:// or https://`);
  if (url.port === '') throw new UsageError(`${JSON.stringify(raw)}: the port is missing (the axon's default is 8091)`);
  url.pathname = '/';
  return url.toString();
}

export interface CommonValues {
  hotkey?: string;
  'axon-hotkey'?: string;
}

/**
 * The error of a reply that is not 200: a refused hotkey (named, exit 5) and a busy miner
 * (exit 6) are told apart from a miner that failed.
 */
export function replyError(reply: { code: number; message: string }, validatorHotkey: string): Error {
  const kind = refusalOfReply(reply.code, reply.message);
  if (kind === 'not_allowed') return new NotAllowedError(notAllowedMessage(validatorHotkey, `${reply.code} ${reply.message}`));
  if (kind === 'busy') return new BusyError(`the miner is busy (${reply.code} ${reply.message}); try again later`);
  return new Error(`miner answered ${reply.code}: ${reply.message}`);
}

export function openDendrite(url: string, values: CommonValues, timeoutMs?: number): Dendrite {
  const axonHotkey = values['axon-hotkey'];
  if (axonHotkey !== undefined && !isSs58(axonHotkey)) throw new UsageError(`--axon-hotkey ${JSON.stringify(axonHotkey)} is not an SS58 address`);
  const hotkey = validatorHotkey(values.hotkey);
  return new Dendrite({ hotkey, url, axonHotkey, timeoutMs });
}
