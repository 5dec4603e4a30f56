// Command-line flags as every command reads them: one pure parser over node:util's parseArgs
// that turns its messages into one line a person can act on ("unknown option --cores (did
// you mean --cpu?)", "--days needs a value"), lets a value start with "-" so `--days -1` is
// checked like any other number, and sees -h/--help before anything else.
import { parseArgs } from 'node:util';
import { UsageError } from './commands/usage.js';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/** Words people type for a flag that has another name here. */
const SYNONYMS: Record<string, string[]> = {
  cpu: ['cores', 'core', 'cpus', 'vcpu', 'vcpus', 'threads'],
  ram: ['memory', 'mem'],
  disk: ['storage', 'hdd', 'ssd', 'hard-disk'],
  gpu: ['gpus', 'cuda'],
  days: ['day', 'duration', 'time', 'timeline'],
  'ssh-key': ['pubkey', 'public-key', 'ssh-pub', 'sshkey', 'identity'],
  key: ['key-file', 'keyfile', 'pem', 'private-key'],
  'data-dir': ['datadir', 'dir', 'state-dir'],
  port: ['axon-port', 'listen'],
  validators: ['validator', 'validators-file', 'allow'],
};

/** Edit distance with transpositions (optimal string alignment), for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known flag `name` most likely stands for, or undefined. */
export function closestOption(name: string, known: string[]): string | undefined {
  const lower = name.toLowerCase().replace(/_/g, '-');
  if (known.includes(lower)) return lower;
  for (const [flag, words] of Object.entries(SYNONYMS)) if (known.includes(flag) && words.includes(lower)) return flag;
  let best: { flag: string; d: number } | undefined;
  for (const flag of known) {
    const d = distance(lower, flag);
    const limit = flag.length <= 4 ? 1 : 2;
    if (d <= limit && (!best || d < best.d)) best = { flag, d };
  }
  if (best) return best.flag;
  const prefixed = known.filter((flag) => flag.startsWith(lower) && lower.length >= 3);
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

export function unknownOptionMessage(name: string, known: string[]): string {
  const guess = closestOption(name, known);
  return `unknown option --${name}${guess ? ` (did you mean --${guess}?)` : ''}; see --help`;
}

/** True when -h or --help comes before any "--". */
export function wantsHelp(argv: string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
  }
  return false;
}

/** True when --version or -V comes before any "--" (a command that runs for long still answers it). */
export function wantsVersion(argv: string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--version' || arg === '-V') return true;
  }
  return false;
}

/** The values parseFlags returns for `O`: strings, booleans, or lists for `multiple`. */
export type FlagValues<O extends OptionSpec> = {
  [K in keyof O]?: O[K] extends { multiple: true } ? string[] : O[K] extends { type: 'boolean' } ? boolean : string;
} & { help?: boolean };

export interface Parsed<O extends OptionSpec = OptionSpec> {
  values: FlagValues<O>;
  positionals: string[];
}

/**
 * Parses `argv` against `options` (plus --help/-h); throws a one-line UsageError for every
 * mistake. A string flag takes the next word as its value even when it starts with "-", so
 * the command's own check says what is wrong with `--days -1`.
 */
export function parseFlags<O extends OptionSpec>(argv: string[], options: O, { positionals = true } = {}): Parsed<O> {
  // Help wins over every other mistake on the line.
  if (wantsHelp(argv)) return { values: { help: true } as FlagValues<O>, positionals: [] };
  const all: OptionSpec = { ...options, help: { type: 'boolean', short: 'h' } };
  const shorts = new Map(Object.entries(all).filter(([, o]) => o.short).map(([name, o]) => [o.short!, name]));
  const known = Object.keys(all);
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      args.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      const name = shorts.get(arg.slice(1));
      if (!name) throw new UsageError(`unknown option ${arg}; see --help`);
      args.push(`--${name}`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = all[name];
    if (!spec) throw new UsageError(unknownOptionMessage(name, known));
    if (spec.type === 'boolean') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      args.push(arg);
      continue;
    }
    if (eq !== -1) {
      args.push(arg);
      continue;
    }
    const value = argv[i + 1];
    // A following flag of this command is a forgotten value; anything else (e.g. "-1") is the value.
    if (value === undefined || (value.startsWith('--') && all[value.slice(2).split('=')[0]!]) || value === '-h') {
      throw new UsageError(`--${name} needs a value`);
    }
    args.push(`--${name}=${value}`);
    i++;
  }
  try {
    const { values, positionals: rest } = parseArgs({ args, options: all, strict: true, allowPositionals: true });
    if (!positionals && rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}; see --help`);
    return { values: values as FlagValues<O>, positionals: rest };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message.replace(/\s*\n\s*/g, ' '));
  }
}
