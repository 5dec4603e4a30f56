// `validator <command>`: the validator's and renter's tools, one module each.
import { closestOption } from '../args.js';
import { exitStatusUsage } from './exit-codes.js';
import { UsageError } from './usage.js';

const USAGE = `Usage: compute-miner validator <command> URL [options]

Commands:
  specs URL                       print a miner's hardware
  challenge URL --difficulty N    send proof-of-work challenges, verify the answers, print solve times
  check URL... [--file FILE]      rent a test container from each miner, log in over SSH, release it: one verdict each
  allocate URL --cpu N --ram SIZE --disk SIZE --days D --ssh-key FILE
                                  rent a container; prints the ssh line and password, keeps the key file
  release URL --key FILE          give the container back
  pause|resume|restart URL --key FILE
                                  act on the rented container
  exchange-key URL --key FILE --ssh-key FILE [--terminal]
                                  replace the container's user (or terminal) SSH key
  rentals [KEYFILE...]            the rentals made from this machine: ssh line, host-key pin, time left
Each command takes -h/--help and --json (one JSON document on standard output).
${exitStatusUsage({ dataDir: false })}`;

type Command = (argv: string[]) => Promise<number>;
const COMMANDS: Record<string, () => Promise<Command>> = {
  specs: async () => (await import('./validator-specs.js')).runSpecs,
  challenge: async () => (await import('./validator-challenge.js')).runChallenge,
  check: async () => (await import('./validator-check.js')).runCheck,
  allocate: async () => (await import('./validator-rent.js')).runAllocate,
  release: async () => (await import('./validator-rent.js')).runRelease,
  pause: async () => (await import('./validator-rent.js')).runPause,
  resume: async () => (await import('./validator-rent.js')).runResume,
  restart: async () => (await import('./validator-rent.js')).runRestart,
  'exchange-key': async () => (await import('./validator-rent.js')).runExchangeKey,
  rentals: async () => (await import('./validator-rentals.js')).runRentals,
};

export async function runValidator(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    const guess = closestOption(name.replace(/^-+/, ''), Object.keys(COMMANDS));
    throw new UsageError(`unknown validator command ${JSON.stringify(name)}${guess ? ` (did you mean "${guess}"?)` : ''}; see validator --help`);
  }
  return (await load())(rest);
}
