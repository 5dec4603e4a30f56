// `validator <command>`: the validator's and renter's tools, one module each.
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
Each command takes --help.
`;

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
};

export async function runValidator(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) throw new UsageError(`unknown validator command ${JSON.stringify(name)}\n\n${USAGE}`);
  return (await load())(rest);
}
