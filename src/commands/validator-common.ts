// What every validator command shares: the miner's URL, the validator's hotkey, a dendrite.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isSs58 } from '../../protocol/index.js';
import { loadOrCreateHotkey } from '../keystore.js';
import { Dendrite } from '../validator/dendrite.js';
import { UsageError } from './usage.js';

export const DEFAULT_VALIDATOR_HOTKEY = join(homedir(), '.compute-miner', 'validator-hotkey.json');

/** Options every validator command accepts (give them to parseArgs). */
export const COMMON_OPTIONS = {
  hotkey: { type: 'string' },
  'axon-hotkey': { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** parseArgs over the common options and `options`, with URLs as positionals; a mistake is one UsageError line. */
export function parseValidatorArgs<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: true, options: { ...COMMON_OPTIONS, ...options } });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\s*\n\s*/g, ' '));
  }
}

export const COMMON_USAGE = `  --hotkey FILE         the validator's hotkey file, created when missing [${DEFAULT_VALIDATOR_HOTKEY}]
  --axon-hotkey SS58    the miner's hotkey; read from the miner's /health when absent`;

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

export function openDendrite(url: string, values: CommonValues, timeoutMs?: number): Dendrite {
  const axonHotkey = values['axon-hotkey'];
  if (axonHotkey !== undefined && !isSs58(axonHotkey)) throw new UsageError(`--axon-hotkey ${JSON.stringify(axonHotkey)} is not an SS58 address`);
  const { hotkey } = loadOrCreateHotkey(resolve(values.hotkey ?? DEFAULT_VALIDATOR_HOTKEY));
  return new Dendrite({ hotkey, url, axonHotkey, timeoutMs });
}
