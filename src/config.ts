// The miner's command-line options: parsed and checked in one pure function, so every
// bad flag is a one-line error before anything starts.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { DEFAULT_MAX_DIFFICULTY } from '../protocol/index.js';
import { parseFlags, type OptionSpec } from './args.js';
import { mergeFlagSources, type FlagSources } from './flag-sources.js';
import { DEFAULT_AXON_HOST, DEFAULT_AXON_PORT } from './axon/server.js';
import { DEFAULT_HASHCAT_WORKLOAD } from './challenge/hashcat.js';
import { DEFAULT_CHALLENGE_DEADLINE_MS } from './challenge/service.js';
import { DEFAULT_DOCKER_SOCKET } from './containers/docker.js';
import { DEFAULT_BASE_FROM } from './containers/names.js';
import { DEFAULT_IO_RULE, formatIoRule, parseIoRule, type IoRule } from './containers/io-limits.js';
import { containmentProblem, DEFAULT_CONTAINMENT } from './containers/options.js';
import { DEFAULT_POOL_SIZE_BYTES } from './host/pool.js';
import { DEFAULT_STATE_DIR } from './host/rental-dockerd.js';
import { formatSize, parseSize } from './sizes.js';
import { parsePortPool, parseRenterPortCount, sharedPorts, singlePortPool, type PortPool } from './resources/ports.js';

export interface MinerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** The first port of sshPorts (the reply's `port` of a one-port miner). */
  sshPort: number;
  /** SSH ports of the local host: one rental per port. */
  sshPorts: PortPool;
  sshBind: string;
  /** Container ports 20000… each rental publishes for the renter's own services. */
  renterPorts: number;
  /** Host ports they are published from (each rental its own share); null when renterPorts is 0. */
  renterPortPool: PortPool | null;
  /** Docker hosts to rent on instead of this machine alone. */
  hostsFile?: string;
  /** Warm containers kept started per host for the next rentals; 0: none. */
  standby: number;
  /** Disk IO each rented core brings on the pool's disk; null: no IO limits. */
  diskIoPerCore: IoRule | null;
  validatorsFile?: string;
  allowAny: boolean;
  minStake: number;
  /** An explicit Docker socket; absent: the rental daemon on the storage pool (as root). */
  dockerSocket?: string;
  /** Where the storage pool image, its mount and the rental daemon's state live. */
  stateDir: string;
  poolSizeBytes: number;
  pidsLimit: number;
  nofile: number;
  /** Bytes of one file of a rental's output log, and how many files are kept. */
  logMaxBytes: number;
  logFiles: number;
  /** Rent even when the host firewall cannot isolate rentals (development only). */
  allowUnisolated: boolean;
  baseImageFrom: string;
  /** Prefix of the names of this miner's containers, so several miners (or tests) share one Docker. */
  namePrefix: string;
  hashcatPath: string;
  hashcatWorkload: number;
  hashcatExtraArgs: string[];
  challengeMaxDifficulty: number;
  challengeTimeoutSeconds: number;
  logFormat: 'json' | 'pretty' | 'auto';
  logLevel: string;
  /** Logs are appended to this file (JSON lines) instead of standard error. */
  logFile?: string;
}

// Each part's own default, so a flag's default and the part's behaviour without it agree.
export const MINER_DEFAULTS = {
  host: DEFAULT_AXON_HOST,
  port: DEFAULT_AXON_PORT,
  dataDir: './.miner',
  sshPort: 4444,
  sshBind: '0.0.0.0',
  renterPorts: 0,
  renterPortPool: '30000-30999',
  standby: 1,
  diskIoPerCore: formatIoRule(DEFAULT_IO_RULE),
  minStake: 0,
  dockerSocket: DEFAULT_DOCKER_SOCKET,
  stateDir: DEFAULT_STATE_DIR,
  poolSizeBytes: DEFAULT_POOL_SIZE_BYTES,
  pidsLimit: DEFAULT_CONTAINMENT.pidsLimit,
  nofile: DEFAULT_CONTAINMENT.nofile,
  logMaxBytes: DEFAULT_CONTAINMENT.logMaxBytes,
  logFiles: DEFAULT_CONTAINMENT.logFiles,
  baseImageFrom: DEFAULT_BASE_FROM,
  namePrefix: '',
  hashcatPath: 'hashcat',
  hashcatWorkload: DEFAULT_HASHCAT_WORKLOAD,
  challengeMaxDifficulty: DEFAULT_MAX_DIFFICULTY,
  challengeTimeoutSeconds: DEFAULT_CHALLENGE_DEADLINE_MS / 1000,
  logLevel: 'info',
} as const;

export const MINER_USAGE = `Usage: compute-miner miner [options]

  --port N                  axon port (WebSocket + /health + /metrics) [${MINER_DEFAULTS.port}]
  --host ADDR               address the axon listens on [${MINER_DEFAULTS.host}]
  --data-dir DIR            hotkey, allocation record and keys [${MINER_DEFAULTS.dataDir}]
  --ssh-port N              host port of the renter's SSH [${MINER_DEFAULTS.sshPort}]
  --ssh-ports POOL          SSH ports, one rental each: 4444-4459 or 4444,4450-4453
                            (several rentals share the machine by cores, memory, disk, GPUs)
  --renter-ports N          ports per rental for the renter's own services: container ports
                            20000… published from --renter-port-pool [${MINER_DEFAULTS.renterPorts}]
  --renter-port-pool POOL   host ports of the renters' own services [${MINER_DEFAULTS.renterPortPool}]
  --hosts FILE              rent on these Docker hosts (JSON; see README "Many hosts")
  --standby N               warm containers kept started per host, so a rental is served
                            at once; each holds an SSH port, no cores; 0 turns it off [${MINER_DEFAULTS.standby}]
  --disk-io-per-core RATE   disk IO each rented core brings on the pool's disk, reads and
                            writes each: SIZE/s,IOPS or off [${MINER_DEFAULTS.diskIoPerCore}]
  --ssh-bind ADDR           address the SSH port is published on [${MINER_DEFAULTS.sshBind}]
  --validators FILE         validator hotkeys allowed ("<ss58> [stake]" a line, "!<ss58>" denies)
  --min-stake N             refuse allowed validators with less stake [${MINER_DEFAULTS.minStake}]
  --allow-any               accept any validator hotkey (development only)
  --docker-socket PATH      run rentals on this Docker daemon instead of the miner's own
                            rental daemon (disk sizes then need a driver that enforces them)
  --state-dir DIR           storage pool and rental daemon state [${MINER_DEFAULTS.stateDir}]
  --pool-size SIZE          size of the storage pool made on first start [${formatSize(MINER_DEFAULTS.poolSizeBytes)}]
  --pids-limit N            processes a rental may have [${MINER_DEFAULTS.pidsLimit}]
  --nofile N                open files per process in a rental [${MINER_DEFAULTS.nofile}]
  --rental-log-size SIZE    size of one file of a rental's output log [${formatSize(MINER_DEFAULTS.logMaxBytes)}]
  --rental-log-files N      rotated log files kept per rental [${MINER_DEFAULTS.logFiles}]
  --allow-unisolated        rent even when the host firewall cannot isolate rentals (development only)
  --base-image-from IMAGE   FROM of ssh-image-base [${MINER_DEFAULTS.baseImageFrom}]
  --name-prefix P           prefix of this miner's container names (ssh-container, ...) [none]
  --hashcat-path PATH       hashcat executable for challenges [${MINER_DEFAULTS.hashcatPath}]
  --hashcat-workload N      hashcat workload profile 1-4 [${MINER_DEFAULTS.hashcatWorkload}]
  --hashcat-arg=ARG         extra hashcat argument (repeatable; note the "=")
  --challenge-max-difficulty N   longest password solved [${MINER_DEFAULTS.challengeMaxDifficulty}]
  --challenge-timeout S     seconds a challenge may take, queue wait included [${MINER_DEFAULTS.challengeTimeoutSeconds}]
  --log-format F            json | pretty | auto (pretty on a terminal) [auto]
  --log-level L             trace | debug | info | warn | error [${MINER_DEFAULTS.logLevel}]
  --log-file FILE           append the log (JSON lines) to FILE instead of standard error
  --config FILE             read flags from a JSON file: {"port": 8091, "allow-any": true, ...}
  -h, --help                this help
  --version                 print the version (so "npm start -- --version" answers too)

Every flag can also be set as an environment variable COMPUTE_MINER_<FLAG> (COMPUTE_MINER_SSH_PORT=4444,
COMPUTE_MINER_ALLOW_ANY=true). Precedence: command line > environment > --config file > default.
`;

export type ConfigResult = { ok: true; config: MinerConfig } | { ok: false; error: string };

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`--${name} must be a whole number, not ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new Error(`--${name} must be ${min}–${max}, not ${value}`);
  return value;
}

function address(name: string, raw: string | undefined, fallback: string): string {
  const value = raw ?? fallback;
  if (isIP(value) === 0 && value !== 'localhost') throw new Error(`--${name} must be an IP address, not ${JSON.stringify(value)}`);
  return value;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The miner's flags, as parseFlags reads them (also the keys of a config file). */
export const MINER_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  'ssh-port': { type: 'string' },
  'ssh-ports': { type: 'string' },
  'renter-ports': { type: 'string' },
  'renter-port-pool': { type: 'string' },
  hosts: { type: 'string' },
  standby: { type: 'string' },
  'disk-io-per-core': { type: 'string' },
  'ssh-bind': { type: 'string' },
  validators: { type: 'string' },
  'min-stake': { type: 'string' },
  'allow-any': { type: 'boolean' },
  'docker-socket': { type: 'string' },
  'state-dir': { type: 'string' },
  'pool-size': { type: 'string' },
  'pids-limit': { type: 'string' },
  nofile: { type: 'string' },
  'rental-log-size': { type: 'string' },
  'rental-log-files': { type: 'string' },
  'allow-unisolated': { type: 'boolean' },
  'base-image-from': { type: 'string' },
  'name-prefix': { type: 'string' },
  'hashcat-path': { type: 'string' },
  'hashcat-workload': { type: 'string' },
  'hashcat-arg': { type: 'string', multiple: true },
  'challenge-max-difficulty': { type: 'string' },
  'challenge-timeout': { type: 'string' },
  'log-format': { type: 'string' },
  'log-level': { type: 'string' },
  'log-file': { type: 'string' },
  config: { type: 'string' },
} as const satisfies OptionSpec;

/** Where the miner's flags come from besides the command line. */
export type MinerSources = FlagSources;

/** Parses `miner` flags (CLI > environment > config file > default); never throws, never writes. */
export function parseMinerArgs(argv: string[], sources: MinerSources = {}): ConfigResult {
  let origin: Record<string, string> = {};
  try {
    const cli = parseFlags(argv, MINER_OPTIONS, { positionals: false }).values;
    const merged = mergeFlagSources(cli, MINER_OPTIONS, sources);
    origin = merged.origin;
    const values = merged.values as {
      [K in keyof typeof MINER_OPTIONS]?: (typeof MINER_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof MINER_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
    };
    const logFormat = values['log-format'] ?? 'auto';
    if (!['json', 'pretty', 'auto'].includes(logFormat)) throw new Error(`--log-format must be json, pretty or auto, not ${JSON.stringify(logFormat)}`);
    const logLevel = values['log-level'] ?? MINER_DEFAULTS.logLevel;
    if (!LOG_LEVELS.includes(logLevel)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
    const dataDir = values['data-dir'] ?? MINER_DEFAULTS.dataDir;
    if (dataDir.trim() === '') throw new Error('--data-dir must not be empty');
    const minStakeRaw = values['min-stake'];
    const minStake = minStakeRaw === undefined ? MINER_DEFAULTS.minStake : Number(minStakeRaw);
    if (!Number.isFinite(minStake) || minStake < 0 || minStakeRaw?.trim() === '') throw new Error('--min-stake must be a number ≥ 0');
    const baseImageFrom = values['base-image-from'] ?? MINER_DEFAULTS.baseImageFrom;
    if (!/^[a-z0-9][a-z0-9._\/:@-]{0,254}$/i.test(baseImageFrom)) throw new Error('--base-image-from must be an image reference like name:tag');
    const namePrefix = values['name-prefix'] ?? MINER_DEFAULTS.namePrefix;
    if (!/^([a-z0-9][a-z0-9_.-]{0,62})?$/i.test(namePrefix)) throw new Error('--name-prefix must be letters, digits, "_", "." or "-" (up to 63), starting with a letter or digit');
    const poolSizeRaw = values['pool-size'];
    const poolSizeBytes = poolSizeRaw === undefined ? MINER_DEFAULTS.poolSizeBytes : parseSize(poolSizeRaw);
    if (poolSizeBytes === null || poolSizeBytes < 2 * 1024 ** 3) throw new Error(`--pool-size must be a size of at least 2G (like 32G or 500GiB), not ${JSON.stringify(poolSizeRaw)}`);
    const pidsLimit = integer('pids-limit', values['pids-limit'], MINER_DEFAULTS.pidsLimit, 0, Number.MAX_SAFE_INTEGER);
    const nofile = integer('nofile', values.nofile, MINER_DEFAULTS.nofile, 0, Number.MAX_SAFE_INTEGER);
    const logFiles = integer('rental-log-files', values['rental-log-files'], MINER_DEFAULTS.logFiles, 0, Number.MAX_SAFE_INTEGER);
    const logSizeRaw = values['rental-log-size'];
    const logMaxBytes = logSizeRaw === undefined ? MINER_DEFAULTS.logMaxBytes : parseSize(logSizeRaw);
    if (logMaxBytes === null) throw new Error(`--rental-log-size must be a size like 10M, not ${JSON.stringify(logSizeRaw)}`);
    const limitsProblem = containmentProblem({ ...DEFAULT_CONTAINMENT, pidsLimit, nofile, logMaxBytes, logFiles });
    if (limitsProblem) {
      const flag = /^pids/.test(limitsProblem) ? 'pids-limit' : /^nofile/.test(limitsProblem) ? 'nofile' : /^log size/.test(limitsProblem) ? 'rental-log-size' : 'rental-log-files';
      throw new Error(`--${flag}: ${limitsProblem}`);
    }
    const stateDir = values['state-dir'] ?? MINER_DEFAULTS.stateDir;
    if (stateDir.trim() === '') throw new Error('--state-dir must not be empty');
    if (values['docker-socket'] !== undefined && values['docker-socket'].trim() === '') throw new Error('--docker-socket must not be empty');
    if (values.validators !== undefined && values['allow-any']) throw new Error('--validators and --allow-any exclude each other');
    if (values['ssh-port'] !== undefined && values['ssh-ports'] !== undefined) throw new Error('--ssh-port and --ssh-ports exclude each other: --ssh-ports 4444 is a pool of one');
    if (values.hosts !== undefined) {
      for (const flag of ['ssh-port', 'ssh-ports', 'ssh-bind', 'docker-socket'] as const) {
        if (values[flag] !== undefined) throw new Error(`--hosts and --${flag} exclude each other: each host's engine, ssh_bind and ssh_ports are in the hosts file`);
      }
      if (values.hosts.trim() === '') throw new Error('--hosts must not be empty');
    }
    const sshPort = integer('ssh-port', values['ssh-port'], MINER_DEFAULTS.sshPort, 1, 65535);
    const sshPorts = values['ssh-ports'] !== undefined ? parsePortPool(values['ssh-ports'], '--ssh-ports') : singlePortPool(sshPort, '--ssh-port');
    const renterPorts = parseRenterPortCount(values['renter-ports'] ?? String(MINER_DEFAULTS.renterPorts));
    const renterPortPool = renterPorts === 0 ? null : parsePortPool(values['renter-port-pool'] ?? MINER_DEFAULTS.renterPortPool, '--renter-port-pool');
    if (renterPortPool && values.hosts === undefined) {
      const need = renterPorts * sshPorts.ports.length;
      if (renterPortPool.ports.length < need) throw new Error(`--renter-port-pool: ${renterPortPool.ports.length} ports for ${sshPorts.ports.length} rentals × ${renterPorts} renter ports (${need} needed)`);
      const shared = sharedPorts(sshPorts, renterPortPool);
      if (shared.length) throw new Error(`--renter-port-pool: port ${shared[0]} is also an SSH port`);
    }
    const config: MinerConfig = {
      host: address('host', values.host, MINER_DEFAULTS.host),
      port: integer('port', values.port, MINER_DEFAULTS.port, 0, 65535),
      dataDir: resolve(dataDir),
      sshPort: sshPorts.ports[0]!,
      sshPorts,
      renterPorts,
      renterPortPool,
      standby: integer('standby', values.standby, MINER_DEFAULTS.standby, 0, 16),
      diskIoPerCore: parseIoRule(values['disk-io-per-core'] ?? MINER_DEFAULTS.diskIoPerCore, parseSize),
      ...(values.hosts !== undefined ? { hostsFile: resolve(values.hosts) } : {}),
      sshBind: address('ssh-bind', values['ssh-bind'], MINER_DEFAULTS.sshBind),
      validatorsFile: values.validators === undefined ? undefined : resolve(values.validators),
      allowAny: values['allow-any'] ?? false,
      minStake,
      ...(values['docker-socket'] !== undefined ? { dockerSocket: values['docker-socket'] } : {}),
      stateDir: resolve(stateDir),
      poolSizeBytes,
      pidsLimit,
      nofile,
      logMaxBytes,
      logFiles,
      allowUnisolated: values['allow-unisolated'] ?? false,
      baseImageFrom,
      namePrefix,
      hashcatPath: values['hashcat-path'] ?? MINER_DEFAULTS.hashcatPath,
      hashcatWorkload: integer('hashcat-workload', values['hashcat-workload'], MINER_DEFAULTS.hashcatWorkload, 1, 4),
      hashcatExtraArgs: values['hashcat-arg'] ?? [],
      challengeMaxDifficulty: integer('challenge-max-difficulty', values['challenge-max-difficulty'], MINER_DEFAULTS.challengeMaxDifficulty, 1, 16),
      challengeTimeoutSeconds: integer('challenge-timeout', values['challenge-timeout'], MINER_DEFAULTS.challengeTimeoutSeconds, 1, 3600),
      logFormat: logFormat as MinerConfig['logFormat'],
      logLevel,
      ...(values['log-file'] !== undefined ? { logFile: resolve(nonEmpty('log-file', values['log-file'])) } : {}),
    };
    if (config.sshPorts.ports.includes(config.port)) throw new Error(`--${values['ssh-ports'] !== undefined ? 'ssh-ports' : 'ssh-port'} and --port must differ: ${config.port} is in both`);
    if (config.renterPortPool?.ports.includes(config.port)) throw new Error(`--renter-port-pool and --port must differ: ${config.port} is in both`);
    return { ok: true, config };
  } catch (err) {
    const message = (err as Error).message;
    const flag = /^--([a-z-]+)/.exec(message)?.[1];
    const from = flag ? origin[flag] : undefined;
    return { ok: false, error: from && from !== 'command line' ? `${message} (from ${from})` : message };
  }
}

function nonEmpty(name: string, value: string): string {
  if (value.trim() === '') throw new Error(`--${name} must not be empty`);
  return value;
}

/** The flags that give `config` back through parseMinerArgs: --data-dir always, others when not the default. */
export function minerFlags(config: MinerConfig): string[] {
  const out = ['--data-dir', config.dataDir];
  const add = (flag: string, value: string | number, fallback: string | number) => {
    if (value !== fallback) out.push(`--${flag}`, String(value));
  };
  add('host', config.host, MINER_DEFAULTS.host);
  add('port', config.port, MINER_DEFAULTS.port);
  if (config.hostsFile !== undefined) out.push('--hosts', config.hostsFile);
  else if (config.sshPorts.ports.length > 1) out.push('--ssh-ports', config.sshPorts.text);
  else add('ssh-port', config.sshPort, MINER_DEFAULTS.sshPort);
  add('renter-ports', config.renterPorts, MINER_DEFAULTS.renterPorts);
  add('standby', config.standby, MINER_DEFAULTS.standby);
  add('disk-io-per-core', formatIoRule(config.diskIoPerCore), MINER_DEFAULTS.diskIoPerCore);
  if (config.renterPortPool && config.renterPortPool.text !== MINER_DEFAULTS.renterPortPool) out.push('--renter-port-pool', config.renterPortPool.text);
  add('ssh-bind', config.sshBind, MINER_DEFAULTS.sshBind);
  if (config.validatorsFile !== undefined) out.push('--validators', config.validatorsFile);
  add('min-stake', config.minStake, MINER_DEFAULTS.minStake);
  if (config.allowAny) out.push('--allow-any');
  if (config.dockerSocket !== undefined) out.push('--docker-socket', config.dockerSocket);
  add('state-dir', config.stateDir, MINER_DEFAULTS.stateDir);
  add('pool-size', config.poolSizeBytes, MINER_DEFAULTS.poolSizeBytes);
  add('pids-limit', config.pidsLimit, MINER_DEFAULTS.pidsLimit);
  add('nofile', config.nofile, MINER_DEFAULTS.nofile);
  add('rental-log-size', config.logMaxBytes, MINER_DEFAULTS.logMaxBytes);
  add('rental-log-files', config.logFiles, MINER_DEFAULTS.logFiles);
  if (config.allowUnisolated) out.push('--allow-unisolated');
  add('base-image-from', config.baseImageFrom, MINER_DEFAULTS.baseImageFrom);
  add('name-prefix', config.namePrefix, MINER_DEFAULTS.namePrefix);
  add('hashcat-path', config.hashcatPath, MINER_DEFAULTS.hashcatPath);
  add('hashcat-workload', config.hashcatWorkload, MINER_DEFAULTS.hashcatWorkload);
  for (const arg of config.hashcatExtraArgs) out.push(`--hashcat-arg=${arg}`);
  add('challenge-max-difficulty', config.challengeMaxDifficulty, MINER_DEFAULTS.challengeMaxDifficulty);
  add('challenge-timeout', config.challengeTimeoutSeconds, MINER_DEFAULTS.challengeTimeoutSeconds);
  add('log-format', config.logFormat, 'auto');
  add('log-level', config.logLevel, MINER_DEFAULTS.logLevel);
  if (config.logFile !== undefined) out.push('--log-file', config.logFile);
  return out;
}
