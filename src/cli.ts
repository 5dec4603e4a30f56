#!/usr/bin/env node
// One command line for everything: the miner, key generation and the validator's tools.
// Each command lives in src/commands/; this file only dispatches and turns errors into one line.
import { ed25519Named, useEd25519 } from '../protocol/index.js';
import { UsageError } from './commands/usage.js';

const USAGE = `Usage: compute-miner <command> [options]

Commands:
  miner                 run the miner (axon, containers, challenges); see "miner --help"
  keygen [--out FILE]   create a hotkey file and print its SS58 address
  validator <command>   talk to miners as a validator; see "validator --help"
  host <setup|status>   the storage pool, rental Docker daemon and firewall; see "host --help"
`;

type Command = (argv: string[]) => Promise<number>;
const COMMANDS: Record<string, () => Promise<Command>> = {
  miner: async () => (await import('./commands/miner.js')).runMiner,
  keygen: async () => (await import('./commands/keygen.js')).runKeygen,
  validator: async () => (await import('./commands/validator.js')).runValidator,
  host: async () => (await import('./commands/host.js')).runHost,
};

/** COMPUTE_MINER_ED25519 picks the signature implementation: libsodium (default) or node. */
function selectSignatures(name: string | undefined): void {
  if (name === undefined || name === '') return;
  try {
    useEd25519(ed25519Named(name));
  } catch (err) {
    throw new UsageError(`COMPUTE_MINER_ED25519: ${(err as Error).message}`);
  }
}

async function main(argv: string[]): Promise<number> {
  selectSignatures(process.env.COMPUTE_MINER_ED25519);
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) throw new UsageError(`unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Mistakes get one line, not a stack trace; DEBUG=1 shows the stack.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    if (process.env.DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
