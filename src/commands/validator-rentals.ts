// `validator rentals [KEYFILE...]`: the rentals this machine's key files hold, as "validator
// allocate" recorded them: the miner, the ssh line, the host-key pin and the time left.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { humanBytes, humanDuration } from '../units.js';
import { rentalRecords, renterHome, sshFingerprint, type RentalRecord } from '../validator/rental-records.js';
import { sshCommandLine } from '../validator/rent.js';
import { knownHostsPath } from '../validator/host-pin.js';
import { parseFlags } from '../args.js';
import { printJson } from './validator-common.js';

const USAGE = `Usage: compute-miner validator rentals [KEYFILE...] [options]
Lists the rentals "validator allocate" made from this machine (recorded in ${renterHome()}/rentals,
or $COMPUTE_MINER_HOME/rentals), or only those of the given key files.
  --all                 also list rentals whose time is up or whose key file is gone
  --json                one JSON document on standard output
  -h, --help            this help
`;

export interface RentalLine extends RentalRecord {
  ssh: string;
  /** Fingerprints of the pinned host keys; empty when the miner's reply had none. */
  hostKeyFingerprints: string[];
  secondsLeft: number;
  keyFilePresent: boolean;
}

export function describeRental(r: RentalRecord, now = Date.now()): RentalLine {
  // The known_hosts file "validator allocate" wrote beside the key file, when there is one.
  const knownHosts = knownHostsPath(r.keyFile);
  return {
    ...r,
    ssh: sshCommandLine(r.host, r.port, existsSync(knownHosts) ? knownHosts : undefined, r.identityFile),
    hostKeyFingerprints: (r.hostKeys ?? []).map(sshFingerprint),
    secondsLeft: Math.max(0, Math.round((Date.parse(r.deadline) - now) / 1000)),
    keyFilePresent: existsSync(r.keyFile),
  };
}

export function formatRental(r: RentalLine): string {
  const left = r.secondsLeft > 0 ? `${humanDuration(r.secondsLeft)} left (until ${r.deadline})` : `time is up (${r.deadline})`;
  return [
    `${r.minerHotkey.slice(0, 8)}… ${r.miner}  ${r.cpu} CPU, ${humanBytes(r.ramBytes)} RAM, ${humanBytes(r.diskBytes)} disk${r.gpu ? `, ${r.gpu} GPU` : ''}  ${left}`,
    `  ${r.ssh}`,
    ...Object.entries(r.ports ?? {}).map(([inside, published]) => `  port ${inside} of the container: ${r.host}:${published}`),
    `  host key: ${r.hostKeyFingerprints.length ? r.hostKeyFingerprints.join(', ') : 'no pin (the miner sent no host keys)'}`,
    `  key file: ${r.keyFile}${r.keyFilePresent ? '' : ' (missing: this rental can no longer be managed from here)'}`,
  ].join('\n');
}

export async function runRentals(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { all: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const only = new Set(positionals.map((p) => resolve(p)));
  const records = rentalRecords().list();
  const unknown = [...only].filter((file) => !records.some((r) => r.keyFile === file));
  for (const file of unknown) process.stderr.write(`${file}: no record of this key file (made on another machine, or before rentals were recorded); it still releases its rental\n`);
  const lines = records
    .filter((r) => only.size === 0 || only.has(r.keyFile))
    .map((r) => describeRental(r))
    .filter((r) => values.all || only.size > 0 || (r.secondsLeft > 0 && r.keyFilePresent));
  if (values.json) {
    printJson({ rentals: lines });
    return 0;
  }
  process.stdout.write(lines.length === 0 ? 'no rentals recorded on this machine\n' : `${lines.map(formatRental).join('\n\n')}\n`);
  return 0;
}
