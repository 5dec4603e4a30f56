// The ledger: every rental this miner holds, one record per rental, indexed by id, holder and
// host. A rental is written (temp file, fsync, rename) before its reply goes out and removed
// once its workload is gone; reservations live only in memory until then. Every reader (the
// Allocate handler, Specs, the status page, /health, metrics) reads this one set.
import { readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { syncDirectory, writeFileAtomic } from '../atomic-file.js';
import { sameHolder, storedHolderDigest } from './holder.js';
import { rentalSchema, type Rental } from './record.js';

export const LEDGER_DIR = 'rentals';

export interface Ledger {
  /** Reads the records on disk (start); returns the ones that could not be read, set aside. */
  load(): { loaded: number; unreadable: string[] };
  all(): readonly Rental[];
  get(id: string): Rental | undefined;
  /** The rental of the holder with this digest, compared in constant time against every rental. */
  byHolder(digest: Buffer): Rental | undefined;
  onHost(host: string): Rental[];
  /** Holds a grant in memory (phase reserved or starting): placement counts it from now on. */
  reserve(rental: Rental): void;
  /** Writes the rental to disk and memory (phase live). */
  commit(rental: Rental): void;
  /** Changes a rental in memory only (phase ending). */
  mark(rental: Rental): void;
  /** Forgets the rental, on disk too. */
  drop(id: string): void;
  readonly dir: string;
}

export function createLedger(dataDir: string): Ledger {
  const dir = join(dataDir, LEDGER_DIR);
  const rentals = new Map<string, Rental>();
  const fileOf = (id: string) => join(dir, `${id}.json`);
  return {
    dir,
    load() {
      const unreadable: string[] = [];
      let names: string[] = [];
      try {
        names = readdirSync(dir).filter((n) => n.endsWith('.json'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      for (const name of names) {
        const path = join(dir, name);
        try {
          const rental = rentalSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
          if (`${rental.id}.json` !== name) throw new Error(`its id ${rental.id} is not its file name`);
          rentals.set(rental.id, { ...rental, phase: 'live' });
        } catch (err) {
          // Kept beside the ledger for the operator, never read again.
          renameSync(path, `${path}.unreadable`);
          unreadable.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      return { loaded: rentals.size, unreadable };
    },
    all: () => [...rentals.values()],
    get: (id) => rentals.get(id),
    byHolder(digest) {
      let found: Rental | undefined;
      // Every record is compared, so the time taken does not say which one matched.
      for (const rental of rentals.values()) if (sameHolder(storedHolderDigest(rental.holderKey), digest)) found ??= rental;
      return found;
    },
    onHost: (host) => [...rentals.values()].filter((r) => r.host === host),
    reserve(rental) {
      rentals.set(rental.id, rental);
    },
    commit(rental) {
      const live = { ...rental, phase: 'live' as const };
      writeFileAtomic(fileOf(rental.id), JSON.stringify(live, null, 2) + '\n');
      rentals.set(rental.id, live);
    },
    mark(rental) {
      if (rentals.has(rental.id)) rentals.set(rental.id, rental);
    },
    drop(id) {
      if (!rentals.delete(id)) return;
      rmSync(fileOf(id), { force: true });
      try { syncDirectory(dir); } catch { /* never written: nothing to make durable */ }
    },
  };
}
