// A rental as the ledger keeps it: who holds it, what it was granted where, until when, and the
// runtime's handle on the workload that serves it. Pure: the schema and small readings of it.
import { z } from 'zod';

/** A production rental, or a validator's short-lived test rental (which gives way to production). */
export const RENTAL_ROLES = ['rental', 'test'] as const;
export type RentalRole = (typeof RENTAL_ROLES)[number];

/**
 * reserved: its grant is decided, nothing made yet; starting: the runtime is making it; live: the
 * holder has its credentials; ending: it is being removed. Only live rentals are on disk: a crash
 * before that leaves labelled objects the host's reconcile removes.
 */
export const RENTAL_PHASES = ['reserved', 'starting', 'live', 'ending'] as const;
export type RentalPhase = (typeof RENTAL_PHASES)[number];

const port = z.number().int().min(1).max(65535);
const bytes = z.number().int().nonnegative();

export const grantSchema = z.object({
  /** Docker's cpuset notation, e.g. "0-3,6". */
  cpuset: z.string(),
  /** GPU indices (Docker DeviceIDs). */
  gpus: z.array(z.number().int().nonnegative()),
  sshPort: port,
  /** The renter's own ports: container port → host port. */
  renterPorts: z.record(z.string().regex(/^\d{1,5}$/), port),
  memoryBytes: bytes,
  diskBytes: bytes,
});
export type Grant = z.infer<typeof grantSchema>;

/** What the runtime made for a rental, as it needs it back to act on it. */
export const workloadSchema = z.object({
  container: z.string().min(1),
  name: z.string().min(1),
  image: z.string().min(1),
  /** True when `image` was built for this rental and goes with it. */
  ownImage: z.boolean(),
  network: z.string().min(1).optional(),
});
export type Workload = z.infer<typeof workloadSchema>;

export const rentalSchema = z.object({
  version: z.literal(2),
  /** Random id, also the allocation label of everything made for it. */
  id: z.string().regex(/^[0-9a-f]{8,64}$/),
  /** base64 of the holder's PEM, as the reference miner's allocation_key file holds it. */
  holderKey: z.string().min(1),
  role: z.enum(RENTAL_ROLES),
  phase: z.enum(RENTAL_PHASES),
  /** The host's name (`local` for the axon's own machine). */
  host: z.string().min(1),
  grant: grantSchema,
  createdAt: z.number(),
  /** Milliseconds since the epoch at which the rental ends. */
  deadline: z.number(),
  /** The container's SSH host key lines, as the Allocate reply gave them. */
  hostKeys: z.array(z.string()),
  /** The renter's authorized keys by kind. */
  keys: z.object({ user: z.string().optional(), terminal: z.string().optional() }),
  workload: workloadSchema.optional(),
  /** What happened to it that its renter and the operator were told (newest last). */
  events: z.array(z.object({
    at: z.number(), kind: z.enum(['oom', 'crash', 'expiring']), text: z.string().max(500), threshold: z.number().optional(),
  })).max(50).optional(),
});
export type Rental = z.infer<typeof rentalSchema>;

/** The container label of a rental's role (the reference miner's container names). */
export function containerRole(role: RentalRole): 'ssh-container' | 'ssh-test-container' {
  return role === 'test' ? 'ssh-test-container' : 'ssh-container';
}
