// What the renter's machine remembers of each rental besides its key file: the miner, the SSH
// host and port, the size, when it ends and the host keys the miner pinned (when its reply
// had them). One JSON file a rental (mode 0600) in <home>/rentals/, named after the key
// file's path; no password or private key is in it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';

/** Where the renter's records live: $COMPUTE_MINER_HOME or ~/.compute-miner. */
export function renterHome(env: Record<string, string | undefined> = process.env): string {
  return env.COMPUTE_MINER_HOME || join(homedir(), '.compute-miner');
}

export interface RentalRecord {
  version: 1;
  /** ws:// URL of the miner's axon. */
  miner: string;
  minerHotkey: string;
  /** SSH host and port of the rental. */
  host: string;
  port: number;
  /** Absolute path of the private key file that holds the rental. */
  keyFile: string;
  /** ISO 8601; the deadline is counted from here (the miner's own clock may differ by the request's time). */
  allocatedAt: string;
  deadline: string;
  cpu: number;
  ramBytes: number;
  diskBytes: number;
  gpu: number | 'all';
  /** The rental's SSH host public keys ("type base64"), when the miner's reply had `host_keys`. */
  hostKeys?: string[];
  /** Container port → published port on `host`, for the renter's own services (the reply's `ports`). */
  ports?: Record<string, number>;
  /** The SSH identity file that goes with the --ssh-key given (the ssh line's `-i`). */
  identityFile?: string;
}

/** host_keys of a raw Allocate reply output, when it has a list of OpenSSH public keys. */
export function hostKeysOf(output: unknown): string[] | undefined {
  const keys = (output as { host_keys?: unknown } | null)?.host_keys;
  if (!Array.isArray(keys)) return undefined;
  const lines = keys.map((k) => (typeof k === 'string' ? k : (k as { key?: unknown })?.key)).filter((k): k is string => typeof k === 'string' && /^(ssh|ecdsa)-[\w@.-]+ [A-Za-z0-9+/=]+/.test(k));
  return lines.length ? lines.map((l) => l.split(' ').slice(0, 2).join(' ')) : undefined;
}

/** `SHA256:…` of an OpenSSH public key line, as `ssh-keygen -l` prints it. */
export function sshFingerprint(line: string): string {
  const [type, blob] = line.split(' ');
  return `${type} SHA256:${createHash('sha256').update(Buffer.from(blob ?? '', 'base64')).digest('base64').replace(/=+$/, '')}`;
}

const recordFile = (dir: string, keyFile: string) => join(dir, `${createHash('sha256').update(resolve(keyFile)).digest('hex').slice(0, 24)}.json`);

export interface RentalRecords {
  save(record: RentalRecord): void;
  remove(keyFile: string): void;
  list(): RentalRecord[];
  readonly dir: string;
}

export function rentalRecords(home = renterHome()): RentalRecords {
  const dir = join(home, 'rentals');
  return {
    dir,
    save(record) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(recordFile(dir, record.keyFile), `${JSON.stringify(record, null, 2)}\n`);
    },
    remove(keyFile) {
      rmSync(recordFile(dir, keyFile), { force: true });
    },
    list() {
      if (!existsSync(dir)) return [];
      const out: RentalRecord[] = [];
      for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
        try {
          const r = JSON.parse(readFileSync(join(dir, name), 'utf8')) as RentalRecord;
          if (r.version === 1 && typeof r.keyFile === 'string') out.push(r);
        } catch {
          // A damaged record is skipped; the key file still releases the rental.
        }
      }
      return out.sort((a, b) => a.allocatedAt.localeCompare(b.allocatedAt));
    },
  };
}
