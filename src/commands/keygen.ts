// `keygen [--out FILE] [--force]`: a new hotkey file (mode 0600) and its SS58 address.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { createHotkey } from '../keystore.js';
import { UsageError } from './usage.js';

export async function runKeygen(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { out: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean' } } }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write('Usage: compute-miner keygen [--out FILE] [--force]\n  Writes a new hotkey file (default ./hotkey.json, mode 0600) and prints its SS58 address.\n');
    return 0;
  }
  const path = resolve(values.out ?? 'hotkey.json');
  if (existsSync(path) && !values.force) throw new UsageError(`${path} exists; pass --force to replace it`);
  const hotkey = createHotkey(path);
  process.stdout.write(`${hotkey.ss58Address}\n`);
  process.stderr.write(`hotkey written to ${path}\n`);
  return 0;
}
