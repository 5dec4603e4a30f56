// `service install|uninstall|status`: the miner as a systemd service. install checks the
// miner flags exactly as `miner` would, then writes the unit (see src/service/unit.ts);
// systemctl is run only when asked (--enable / --disable), never behind the operator's back.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../atomic-file.js';
import { fileErrorWords } from '../errno-words.js';
import { closestOption } from '../args.js';
import { parseMinerArgs } from '../config.js';
import { DEFAULT_SERVICE_NAME, DEFAULT_UNIT_DIR, unitFile } from '../service/unit.js';
import { UsageError } from './usage.js';

const USAGE = `Usage: compute-miner service <install|uninstall|status> [options] [miner options]
  install [miner options]   write a systemd unit that runs "compute-miner miner" with these options
                            (checked as "miner" checks them; paths made absolute)
  uninstall                 remove the unit file
  status                    show the unit and, where systemd runs, whether it is active
Options:
  --name NAME               unit name [${DEFAULT_SERVICE_NAME}] (NAME.service)
  --unit-dir DIR            where unit files go [${DEFAULT_UNIT_DIR}]
  --user USER               install: run the miner as USER [root]
  --print                   install: print the unit on standard output, write nothing
  --enable                  install: then run systemctl daemon-reload and systemctl enable --now NAME
  --disable                 uninstall: first run systemctl disable --now NAME
  --json                    status: one JSON document
  -h, --help                this help
`;

const SERVICE_FLAGS: Record<string, 'string' | 'boolean'> = {
  name: 'string', 'unit-dir': 'string', user: 'string', print: 'boolean', enable: 'boolean', disable: 'boolean', json: 'boolean', help: 'boolean',
};

/** Splits the service's own flags from the miner flags that follow. */
export function splitServiceArgs(argv: string[]): { service: Record<string, string | boolean>; miner: string[] } {
  const service: Record<string, string | boolean> = {};
  const miner: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') ? [arg.slice(2).split('=')[0]!, arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined] : [arg === '-h' ? 'help' : '', undefined];
    const type = SERVICE_FLAGS[flag];
    if (!type) {
      miner.push(arg);
      continue;
    }
    if (type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${flag} takes no value`);
      service[flag] = true;
    } else {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new UsageError(`--${flag} needs a value`);
      service[flag] = value;
    }
  }
  return { service, miner };
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: string };
    if (e.code === 'ENOENT') throw new Error(`${command} is not installed`);
    return (e.stdout ?? '').trim() || (e.stderr ?? '').trim();
  }
}

const systemdRuns = () => existsSync('/run/systemd/system');

export async function runService(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (action === '-h' || action === '--help' || action === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!['install', 'uninstall', 'status'].includes(action)) {
    const guess = closestOption(action, ['install', 'uninstall', 'status']);
    throw new UsageError(`unknown service command ${JSON.stringify(action)}${guess ? ` (did you mean "${guess}"?)` : ''}; see service --help`);
  }
  const { service, miner } = splitServiceArgs(rest);
  if (service.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const name = (service.name as string | undefined) ?? DEFAULT_SERVICE_NAME;
  if (!/^[A-Za-z0-9_.@-]{1,200}$/.test(name) || name.endsWith('.service')) throw new UsageError(`--name ${JSON.stringify(name)}: letters, digits, "_", ".", "@", "-", without ".service"`);
  const unitPath = join(resolve((service['unit-dir'] as string | undefined) ?? DEFAULT_UNIT_DIR), `${name}.service`);
  const only = (flags: string[]) => {
    for (const f of Object.keys(service)) if (!flags.includes(f)) throw new UsageError(`--${f} does not go with service ${action}`);
  };

  if (action === 'install') {
    only(['name', 'unit-dir', 'user', 'print', 'enable']);
    const user = service.user as string | undefined;
    if (user !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/i.test(user)) throw new UsageError(`--user ${JSON.stringify(user)} is not a user name`);
    const parsed = parseMinerArgs(miner, { env: process.env, readFile: (p) => readFileSync(p, 'utf8') });
    if (!parsed.ok) throw new UsageError(parsed.error);
    const text = unitFile({ node: process.execPath, cli: fileURLToPath(new URL('../cli.js', import.meta.url)), config: parsed.config, user });
    if (service.print) {
      process.stdout.write(text);
      return 0;
    }
    mkdirSync(parsed.config.dataDir, { recursive: true, mode: 0o700 });
    try {
      writeFileAtomic(unitPath, text, 0o644);
    } catch (err) {
      throw new Error(`cannot write ${unitPath}: ${fileErrorWords(err)} (run as root, or give --unit-dir)`);
    }
    process.stdout.write(`unit written to ${unitPath}\n`);
    if (service.enable) {
      run('systemctl', ['daemon-reload']);
      execFileSync('systemctl', ['enable', '--now', `${name}.service`], { stdio: 'inherit' });
      process.stdout.write(`${name} enabled and started\n`);
    } else {
      process.stdout.write(`start it with: systemctl daemon-reload && systemctl enable --now ${name}\n`);
    }
    return 0;
  }

  if (action === 'uninstall') {
    only(['name', 'unit-dir', 'disable']);
    if (miner.length) throw new UsageError(`unexpected ${JSON.stringify(miner[0])}: service uninstall takes no miner options`);
    if (!existsSync(unitPath)) throw new Error(`no unit at ${unitPath}`);
    if (service.disable) execFileSync('systemctl', ['disable', '--now', `${name}.service`], { stdio: 'inherit' });
    rmSync(unitPath);
    process.stdout.write(`removed ${unitPath}${service.disable ? '' : ` (if it runs: systemctl disable --now ${name})`}\n`);
    if (service.disable) run('systemctl', ['daemon-reload']);
    return 0;
  }

  only(['name', 'unit-dir', 'json']);
  if (miner.length) throw new UsageError(`unexpected ${JSON.stringify(miner[0])}: service status takes no miner options`);
  const installed = existsSync(unitPath);
  const exec = installed ? /^ExecStart=(.*)$/m.exec(readFileSync(unitPath, 'utf8'))?.[1] ?? null : null;
  const systemd = systemdRuns();
  const active = systemd && installed ? run('systemctl', ['is-active', `${name}.service`]) : null;
  const enabled = systemd && installed ? run('systemctl', ['is-enabled', `${name}.service`]) : null;
  if (service.json) {
    process.stdout.write(`${JSON.stringify({ name, unit: unitPath, installed, execStart: exec, systemd, active, enabled })}\n`);
  } else {
    process.stdout.write(
      `unit        ${unitPath} (${installed ? 'installed' : 'not installed'})\n` +
        (exec ? `runs        ${exec}\n` : '') +
        `systemd     ${systemd ? `${active ?? '-'}, ${enabled ?? '-'}` : 'not running on this machine (the unit cannot be started here)'}\n`,
    );
  }
  return installed ? 0 : 3;
}
