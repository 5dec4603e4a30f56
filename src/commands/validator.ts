// `validator <command>`: the validator's and renter's tools, one module each.
import { UsageError } from './usage.js';

const USAGE = `Usage: compute-miner validator <command> URL [options]

Commands:
  specs URL                       print a miner's hardware
  challenge URL --difficulty N    send proof-of-work challenges, verify the answers, print solve times
`;

type Command = (argv: string[]) => Promise<number>;
const COMMANDS: Record<string, () => Promise<Command>> = {
  specs: async () => (await import('./validator-specs.js')).runSpecs,
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
