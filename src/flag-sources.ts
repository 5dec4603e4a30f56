// A command's flags from three places: the command line over COMPUTE_MINER_<FLAG> variables
// over a JSON --config file (keys are the flag names without "--"). Each source is checked
// against the command's options (an unknown key or variable is an error naming it, with "did
// you mean"); values come out as strings, booleans or lists, for the command's own checks, and
// `origin` says where each came from so those checks can name it.
import { closestOption, type OptionSpec } from './args.js';

/** Prefix of the environment variables that set flags: COMPUTE_MINER_SSH_PORT is --ssh-port. */
export const ENV_PREFIX = 'COMPUTE_MINER_';
/** COMPUTE_MINER_ variables read elsewhere: the signature library, the config file (read first), the renter's home, a second rental daemon's layout. */
const ENV_RESERVED = new Set(['COMPUTE_MINER_ED25519', 'COMPUTE_MINER_CONFIG', 'COMPUTE_MINER_HOME', 'COMPUTE_MINER_RENTAL_DAEMON']);

export interface FlagSources {
  /** COMPUTE_MINER_<FLAG> variables are read from here [none]. */
  env?: Record<string, string | undefined>;
  /** Reads the --config file; default: no file can be read. */
  readFile?: (path: string) => string;
}

export type FlagValue = string | boolean | string[];

export const envName = (flag: string) => `${ENV_PREFIX}${flag.toUpperCase().replace(/-/g, '_')}`;

/** One source's values, checked against `options`; `where` names the source in errors, `nameOf` a suggestion. */
function sourceValues(options: OptionSpec, entries: [string, unknown][], where: (key: string) => string, nameOf: (key: string) => string, kind: string): Record<string, FlagValue> {
  const known = Object.keys(options).filter((k) => k !== 'config');
  const out: Record<string, FlagValue> = {};
  for (const [flag, raw] of entries) {
    const spec = options[flag];
    if (!spec || flag === 'config') {
      const guess = closestOption(flag, known);
      throw new Error(`${where(flag)}: unknown ${kind}${guess ? ` (did you mean ${nameOf(guess)}?)` : ''}`);
    }
    if (spec.type === 'boolean') {
      if (typeof raw === 'boolean') out[flag] = raw;
      else if (typeof raw === 'string' && /^(1|true|yes|on)$/i.test(raw)) out[flag] = true;
      else if (typeof raw === 'string' && /^(0|false|no|off|)$/i.test(raw)) out[flag] = false;
      else throw new Error(`${where(flag)}: must be true or false, not ${JSON.stringify(raw)}`);
    } else if (spec.multiple) {
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) out[flag] = raw as string[];
      else if (typeof raw === 'string') out[flag] = kind === 'variable' ? raw.split(/\s+/).filter(Boolean) : [raw];
      else throw new Error(`${where(flag)}: must be a string or a list of strings`);
    } else if (typeof raw === 'string' || (typeof raw === 'number' && Number.isFinite(raw))) {
      out[flag] = String(raw);
    } else {
      throw new Error(`${where(flag)}: must be a string or a number, not ${JSON.stringify(raw)}`);
    }
  }
  return out;
}

/** Reads a JSON config file: one object whose keys are flag names without "--". */
export function parseConfigFile(options: OptionSpec, text: string, path: string): Record<string, FlagValue> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`--config ${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`--config ${path}: must be a JSON object of flags, e.g. {"port": 8091}`);
  return sourceValues(options, Object.entries(doc), (key) => `--config ${path}: "${key}"`, (key) => `"${key}"`, 'key');
}

/** Variables COMPUTE_MINER_<FLAG>; an unknown one is an error (a typo would be ignored otherwise). */
export function environmentValues(options: OptionSpec, env: Record<string, string | undefined>): Record<string, FlagValue> {
  const entries: [string, unknown][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_RESERVED.has(name) || value === undefined) continue;
    entries.push([name.slice(ENV_PREFIX.length).toLowerCase().replace(/_/g, '-'), value]);
  }
  return sourceValues(options, entries, envName, envName, 'variable');
}

/** The command line's values (`cli`, from parseFlags) merged over the environment's over the file's. */
export function mergeFlagSources(cli: Record<string, unknown>, options: OptionSpec, sources: FlagSources): { values: Record<string, FlagValue>; origin: Record<string, string> } {
  const env = environmentValues(options, sources.env ?? {});
  const configPath = (cli.config as string | undefined) ?? (sources.env?.[envName('config')] || undefined);
  let file: Record<string, FlagValue> = {};
  if (configPath !== undefined) {
    if (configPath.trim() === '') throw new Error('--config must not be empty');
    let text: string;
    try {
      if (!sources.readFile) throw new Error('no file can be read here');
      text = sources.readFile(configPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`--config ${configPath}: ${code === 'ENOENT' ? 'no such file' : code ?? (err as Error).message}`);
    }
    file = parseConfigFile(options, text, configPath);
  }
  const values: Record<string, FlagValue> = {};
  const origin: Record<string, string> = {};
  for (const flag of Object.keys(options)) {
    if (flag === 'config') continue;
    const picked: [unknown, string][] = [[cli[flag], 'command line'], [env[flag], envName(flag)], [file[flag], `--config ${configPath}`]];
    const found = picked.find(([v]) => v !== undefined);
    if (!found) continue;
    values[flag] = found[0] as FlagValue;
    origin[flag] = found[1];
  }
  // A false boolean is the same as leaving the flag out.
  for (const [flag, v] of Object.entries(values)) if (v === false) delete values[flag];
  return { values, origin };
}
