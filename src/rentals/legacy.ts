// Upgrade without loss: rentals recorded by releases that kept one record per SSH port (the
// data dir's own `allocation.json`/`allocation_key`, and `slots/<host>/<port>/` of a pool) are
// taken into the ledger with their id, container, port, deadline and keys; the old files go once
// the ledger holds them. Their containers carry the same id label, so reconcile finds them.
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { allocationStore, type AllocationRecord } from '../containers/store.js';
import type { Ledger } from './ledger.js';
import type { Rental } from './record.js';

/** A record of an older release as a ledger rental. Pure. */
export function rentalFromRecord(record: AllocationRecord, host: string): Rental {
  return {
    version: 2,
    id: record.id,
    holderKey: record.holderKey,
    role: record.role === 'ssh-test-container' ? 'test' : 'rental',
    phase: 'live',
    host,
    grant: {
      cpuset: record.cpuset,
      gpus: record.gpuIds ?? [],
      sshPort: record.port,
      // Not recorded then: read from the container's published ports at reconcile.
      renterPorts: {},
      memoryBytes: record.memoryBytes ?? 0,
      diskBytes: record.diskBytes ?? 0,
    },
    createdAt: record.createdAt,
    deadline: record.deadline,
    hostKeys: [],
    keys: record.keys,
    workload: { container: record.containerId, name: record.containerName, image: record.image, ownImage: record.ownImage, ...(record.network ? { network: record.network } : {}) },
  };
}

/** Where older releases kept records: the data dir itself (the first host), and each pool slot. */
export function legacyRecordDirs(dataDir: string, firstHost: string): { dir: string; host: string }[] {
  const dirs = [{ dir: dataDir, host: firstHost }];
  const slots = join(dataDir, 'slots');
  if (!existsSync(slots)) return dirs;
  for (const host of readdirSync(slots)) {
    let ports: string[] = [];
    try { ports = readdirSync(join(slots, host)); } catch { continue; }
    for (const port of ports) dirs.push({ dir: join(slots, host, port), host });
  }
  return dirs;
}

/** Adopts every readable older record; returns what was adopted and what could not be read. */
export function adoptLegacyRecords(dataDir: string, firstHost: string, ledger: Pick<Ledger, 'commit' | 'get'>): { adopted: Rental[]; problems: string[] } {
  const adopted: Rental[] = [];
  const problems: string[] = [];
  for (const { dir, host } of legacyRecordDirs(dataDir, firstHost)) {
    if (!existsSync(join(dir, 'allocation.json'))) continue;
    const store = allocationStore(dir);
    let record: AllocationRecord | null;
    try {
      record = store.read();
    } catch (err) {
      problems.push(`${dir}: ${(err as Error).message}`);
      continue;
    }
    if (!record) continue;
    const rental = rentalFromRecord(record, host);
    // The ledger first: a crash between the two leaves the rental in both, and the next start adopts it again.
    if (!ledger.get(rental.id)) ledger.commit(rental);
    store.clear();
    adopted.push(rental);
    if (dir !== dataDir) {
      rmSync(join(dir, 'build'), { recursive: true, force: true });
      try { rmdirSync(dir); } catch { /* something else of the operator's is there: kept */ }
    }
  }
  return { adopted, problems };
}
