// The miner as a systemd service: the unit file, made by a pure function from the resolved
// configuration so it can be read (and verified with systemd-analyze) before it is installed.
import type { MinerConfig } from '../config.js';
import { minerFlags } from '../config.js';

export const DEFAULT_SERVICE_NAME = 'compute-miner';
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
/** Seconds systemd waits before restarting a failed miner [5]. */
export const DEFAULT_RESTART_SECONDS = 5;
/** Seconds systemd gives a stopping miner before SIGKILL [30]. */
export const DEFAULT_STOP_SECONDS = 30;

export interface UnitOptions {
  /** Absolute path of node. */
  node: string;
  /** Absolute path of dist/src/cli.js. */
  cli: string;
  config: MinerConfig;
  /** Run as this user (root when absent: Docker and the SSH port need it). */
  user?: string;
  restartSeconds?: number;
  stopSeconds?: number;
}

/** One ExecStart word, quoted for systemd ("…" with \ and " escaped, $ and % doubled). */
export function systemdQuote(word: string): string {
  if (/[\x00-\x1f]/.test(word)) throw new Error(`${JSON.stringify(word)}: control characters cannot go into a unit file`);
  return `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '$$$$').replace(/%/g, '%%')}"`;
}

/** Documentation= points at the README beside the build, when its path needs no quoting. */
function docs(cli: string): string {
  const readme = cli.replace(/\/dist\/src\/cli\.js$/, '/README.md');
  return readme !== cli && /^[\w/.@+-]+$/.test(readme) ? `Documentation=file://${readme}\n` : '';
}

/**
 * What the miner needs before it starts at boot: the network up (network-online), local file
 * systems with its state and data dirs mounted (the storage pool image lives in the state dir),
 * firewalld settled (it would flush the rental firewall installed after it), the clock set, and
 * Docker's own units where they exist (the miner starts its own rental daemon, with the system's
 * docker and containerd already up).
 */
export const UNIT_AFTER = ['network-online.target', 'local-fs.target', 'time-set.target', 'firewalld.service', 'containerd.service', 'docker.service'];

/** RequiresMountsFor= takes plain absolute paths; one that would need quoting is left out. */
function mountsFor(config: MinerConfig): string {
  const paths = [...new Set([config.stateDir, config.dataDir])].filter((p) => /^\/[\w/.@+-]*$/.test(p));
  return paths.length ? `RequiresMountsFor=${paths.join(' ')}\n` : '';
}

export function unitFile(o: UnitOptions): string {
  // The log goes to the journal: never a terminal, so JSON lines unless asked otherwise.
  const flags = minerFlags(o.config);
  const exec = [o.node, o.cli, 'miner', ...flags].map(systemdQuote).join(' ');
  return `# Written by "compute-miner service install"; reinstall to change it.
[Unit]
Description=compute-miner: rents this machine's CPUs, memory, disk and GPUs as SSH-reachable containers
${docs(o.cli)}After=${UNIT_AFTER.join(' ')}
Wants=network-online.target
${mountsFor(o.config)}
[Service]
Type=simple
ExecStart=${exec}
${o.user ? `User=${o.user}\n` : ''}WorkingDirectory=${o.config.dataDir.replace(/%/g, '%%')}
Restart=on-failure
RestartSec=${o.restartSeconds ?? DEFAULT_RESTART_SECONDS}
# SIGTERM to the miner only: what a rental started outside it (helper daemons) outlives a restart.
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec=${o.stopSeconds ?? DEFAULT_STOP_SECONDS}
# Exit status 2 is a usage mistake and 4 a data dir held by another miner: restarting does not fix them.
RestartPreventExitStatus=2 4

[Install]
WantedBy=multi-user.target
`;
}
