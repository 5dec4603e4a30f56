#!/usr/bin/env node
// One command line for everything: the miner, key generation and the validator's tools.
// Each command lives in src/commands/; this file only dispatches and turns errors into one line.
import { closestOption } from './args.js';
import { explainErrnoCodes } from './errno-words.js';
import { EXIT_USAGE, exitCodeOf, exitStatusUsage } from './commands/exit-codes.js';
import { explainNetworkError } from './commands/net-errors.js';
import { UsageError } from './commands/usage.js';
import { PACKAGE_VERSION } from './version.js';

const USAGE = `Usage: compute-miner <command> [options]

Commands:
  miner                 run the miner (axon, containers, challenges); see "miner --help"
  keygen [--out FILE]   create a hotkey file and print its SS58 address
  status [URL]          show a running miner's state (default http://127.0.0.1:8091)
  service <command>     install|uninstall|status the miner as a systemd service
  validator <command>   talk to miners as a validator; see "validator --help"
  host <setup|status>   the storage pool, rental Docker daemon and firewall; see "host --help"

Options:
  -h, --help            help (also after any command: "validator allocate --help")
  --version             print the version
${exitStatusUsage()}`;

type Command = (argv: string[]) => Promise<number>;
const COMMANDS: Record<string, () => Promise<Command>> = {
  miner: async () => (await import('./commands/miner.js')).runMiner,
  keygen: async () => (await import('./commands/keygen.js')).runKeygen,
  validator: async () => (await import('./commands/validator.js')).runValidator,
  host: async () => (await import('./commands/host.js')).runHost,
  status: async () => (await import('./commands/status.js')).runStatus,
  service: async () => (await import('./commands/service.js')).runService,
};

/** COMPUTE_MINER_ED25519 picks the signature implementation: libsodium (default) or node. */
async function selectSignatures(name: string | undefined): Promise<void> {
  if (name === undefined || name === '') return;
  // Loaded only here: --help and --version start without the signature libraries.
  const { ed25519Named, useEd25519 } = await import('../protocol/index.js');
  try {
    useEd25519(ed25519Named(name));
  } catch (err) {
    throw new UsageError(`COMPUTE_MINER_ED25519: ${(err as Error).message}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`compute-miner ${PACKAGE_VERSION}\n`);
    return 0;
  }
  await selectSignatures(process.env.COMPUTE_MINER_ED25519);
  const load = COMMANDS[name];
  if (!load) {
    const guess = closestOption(name.replace(/^-+/, ''), Object.keys(COMMANDS));
    throw new UsageError(`unknown command ${JSON.stringify(name)}${guess ? ` (did you mean "${guess}"?)` : ''}; see compute-miner --help`);
  }
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Mistakes get one line, not a stack trace; DEBUG=1 shows the stack.
    const message = explainErrnoCodes(explainNetworkError(err instanceof Error ? err.message : String(err)));
    process.stderr.write(`error: ${message}\n`);
    if (process.env.DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof UsageError ? EXIT_USAGE : exitCodeOf(err);
  },
);
