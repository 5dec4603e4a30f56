// The allocation record and the holder's `allocation_key` file, in the data dir. Written
// atomically (temp file, fsync, rename, fsync of the directory) before a reply goes out, so
// a crash leaves either the old state or the new one, never half of each.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { syncDirectory, writeFileAtomic } from '../atomic-file.js';
import { ROLES } from './names.js';

const recordSchema = z.object({
  version: z.literal(1),
  /** Random id of this allocation, also the container's allocation label. */
  id: z.string().regex(/^[0-9a-f]{8,64}$/),
  /** base64 of the holder's PEM, as in the allocation_key file. */
  holderKey: z.string().min(1),
  role: z.enum(ROLES),
  containerId: z.string().min(1),
  containerName: z.string().min(1),
  image: z.string().min(1),
  /** True when `image` was built for this allocation and goes with it. */
  ownImage: z.boolean(),
  port: z.number().int(),
  cpuset: z.string(),
  createdAt: z.number(),
  /** Milliseconds since the epoch at which the allocation ends. */
  deadline: z.number(),
  keys: z.object({ user: z.string().optional(), terminal: z.string().optional() }),
  /** The rental's own network, removed with it (absent in records of older versions). */
  network: z.string().min(1).optional(),
  /** What the rental was granted, for placing others beside it (absent in older records). */
  memoryBytes: z.number().int().nonnegative().optional(),
  diskBytes: z.number().int().nonnegative().optional(),
  /** GPU indices it holds. */
  gpuIds: z.array(z.number().int().nonnegative()).optional(),
});
export type AllocationRecord = z.infer<typeof recordSchema>;

export const RECORD_FILE = 'allocation.json';
export const HOLDER_KEY_FILE = 'allocation_key';

export interface AllocationStore {
  /** The stored record; null when there is none. An unreadable record throws. */
  read(): AllocationRecord | null;
  write(record: AllocationRecord): void;
  clear(): void;
  readonly dir: string;
}

export function allocationStore(dataDir: string): AllocationStore {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return {
    dir: dataDir,
    read() {
      let text: string;
      try {
        text = readFileSync(join(dataDir, RECORD_FILE), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      const parsed = recordSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`${RECORD_FILE} is not a valid allocation record: ${parsed.error.issues[0]?.message}`);
      return parsed.data;
    },
    write(record) {
      // The holder key first: a record never exists without its holder.
      writeFileAtomic(join(dataDir, HOLDER_KEY_FILE), record.holderKey);
      writeFileAtomic(join(dataDir, RECORD_FILE), JSON.stringify(record, null, 2) + '\n');
    },
    clear() {
      // The record first: a holder key without a record grants nothing.
      rmSync(join(dataDir, RECORD_FILE), { force: true });
      rmSync(join(dataDir, HOLDER_KEY_FILE), { force: true });
      syncDirectory(dataDir);
    },
  };
}
