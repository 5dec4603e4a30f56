// The request and reply envelopes around every synapse body.
import { z } from 'zod';
import { bytes, uint } from './schema.js';

export const MAX_UUID_LENGTH = 128;

export const requestEnvelopeSchema = z.object({
  v: uint(),
  id: uint(),
  name: z.string().max(64),
  timeout: z.number().finite().positive('must be > 0'),
  body: bytes(),
  dendrite: z.object({
    hotkey: z.string().max(64),
    nonce: uint(),
    uuid: z.string().min(1).max(MAX_UUID_LENGTH),
    signature: bytes().refine((b) => b.length === 64, 'must be 64 bytes'),
  }),
  axon: z.object({ hotkey: z.string().max(64) }),
});
export type RequestEnvelope = z.infer<typeof requestEnvelopeSchema>;

export const replyEnvelopeSchema = z.object({
  v: uint(),
  id: uint(),
  name: z.string(),
  status: z.object({ code: uint(), message: z.string() }),
  body: bytes().optional(),
  axon: z.object({
    hotkey: z.string(),
    nonce: uint(),
    signature: bytes().refine((b) => b.length === 64, 'must be 64 bytes'),
  }),
  process_time: z.number().finite().nonnegative(),
});
export type ReplyEnvelope = z.infer<typeof replyEnvelopeSchema>;

/** Reads `id` from a decoded value that failed the schema, so a 400 can still be addressed. */
export function readableId(value: unknown): number | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}
