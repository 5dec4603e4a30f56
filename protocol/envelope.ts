// The request and reply envelopes around every synapse body. The zod schemas are the
// definition; beside each, a faster guard for the hot path that accepts only what its schema
// accepts (tests hold them to that). When a guard says no, the schema decides and words the
// failure with the field's path.
import { z } from 'zod';
import { bytes, parseWith, uint, type Parsed } from './schema.js';

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

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isShortString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

export function isRequestEnvelope(v: unknown): v is RequestEnvelope {
  if (!isRecord(v)) return false;
  const { dendrite, axon } = v;
  return (
    isUint(v.v) &&
    isUint(v.id) &&
    isShortString(v.name, 64) &&
    typeof v.timeout === 'number' &&
    Number.isFinite(v.timeout) &&
    v.timeout > 0 &&
    v.body instanceof Uint8Array &&
    isRecord(dendrite) &&
    isShortString(dendrite.hotkey, 64) &&
    isUint(dendrite.nonce) &&
    isShortString(dendrite.uuid, MAX_UUID_LENGTH) &&
    dendrite.uuid.length >= 1 &&
    dendrite.signature instanceof Uint8Array &&
    dendrite.signature.length === 64 &&
    isRecord(axon) &&
    isShortString(axon.hotkey, 64)
  );
}

export function isReplyEnvelope(v: unknown): v is ReplyEnvelope {
  if (!isRecord(v)) return false;
  const { status, axon } = v;
  return (
    isUint(v.v) &&
    isUint(v.id) &&
    typeof v.name === 'string' &&
    isRecord(status) &&
    isUint(status.code) &&
    typeof status.message === 'string' &&
    (v.body === undefined || v.body instanceof Uint8Array) &&
    isRecord(axon) &&
    typeof axon.hotkey === 'string' &&
    isUint(axon.nonce) &&
    axon.signature instanceof Uint8Array &&
    axon.signature.length === 64 &&
    typeof v.process_time === 'number' &&
    Number.isFinite(v.process_time) &&
    v.process_time >= 0
  );
}

export function checkRequestEnvelope(value: unknown): Parsed<RequestEnvelope> {
  return isRequestEnvelope(value) ? { ok: true, value } : parseWith(requestEnvelopeSchema, value);
}

export function checkReplyEnvelope(value: unknown): Parsed<ReplyEnvelope> {
  return isReplyEnvelope(value) ? { ok: true, value } : parseWith(replyEnvelopeSchema, value);
}
