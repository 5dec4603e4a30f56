// `keygen [--out FILE] [--force]`: a new hotkey file (mode 0600) and its SS58 address.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseFlags } from '../args.js';
import { createHotkey } from '../keystore.js';
import { UsageError } from './usage.js';

const USAGE = `Usage: compute-miner keygen [--out FILE] [--force] [--json]
  Writes a new hotkey file (default ./hotkey.json, mode 0600) and prints its SS58 address.
  --out FILE            where to write it [./hotkey.json]
  --force               replace an existing file
  --json                print {"address", "file"} as one JSON document
  -h, --help            this help
`;

export async function runKeygen(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } }, { positionals: false });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const path = resolve(values.out ?? 'hotkey.json');
  if (existsSync(path) && !values.force) throw new UsageError(`${path} exists; pass --force to replace it`);
  const hotkey = createHotkey(path);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ address: hotkey.ss58Address, file: path })}\n`);
    return 0;
  }
  process.stdout.write(`${hotkey.ss58Address}\n`);
  process.stderr.write(`hotkey written to ${path}\n`);
  return 0;
}
