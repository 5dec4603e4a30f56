// The contract between the axon (transport, verification, queueing, errors) and a synapse
// plugin (what the synapse does). A new synapse is one new file in src/handlers/.
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { SynapseName } from '../../protocol/index.js';

/** What the axon knows about a verified request when it hands it to a plugin. */
export interface RequestContext {
  /** SS58 of the validator (dendrite) that signed the request. */
  readonly hotkey: string;
  /** Stake of that validator from the stake file, 0 when unknown. */
  readonly stake: number;
  /** Milliseconds since the epoch at which the client stops waiting. */
  readonly deadline: number;
  /** Aborted when the deadline passes or the connection closes. */
  readonly signal: AbortSignal;
  /** Milliseconds since the epoch at which the frame arrived. */
  readonly receivedAt: number;
  readonly log: Logger;
}

/**
 * A synapse attached to the axon, after Bittensor's axon: `forward` does the work,
 * `blacklist` refuses callers, `priority` orders the queue, `verify` adds checks.
 */
export interface SynapsePlugin<S extends z.ZodTypeAny = z.ZodTypeAny, Res = unknown> {
  readonly name: SynapseName;
  /** Schema of the request body (from protocol/); failures become 422 with the field path. */
  readonly schema: S;
  /** How many requests of this synapse may run at once (others wait in the queue). */
  readonly concurrency: number;
  /** Does the work. A result returned frozen (Object.freeze, deeply) has its encoding reused by the axon. */
  forward(request: z.output<S>, ctx: RequestContext): Promise<Res>;
  /** A reason to refuse this caller (403), or null. Runs after the axon's own access list. */
  blacklist?(ctx: RequestContext): string | null;
  /** Higher runs first among queued requests of equal synapse rank. */
  priority?(ctx: RequestContext): number;
  /** Extra verification of a decoded request; a thrown SynapseError decides the code. */
  verify?(request: z.output<S>, ctx: RequestContext): void;
}

/** A failure that becomes a reply with this status code and message (never a stack trace). */
export class SynapseError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'SynapseError';
  }
}
