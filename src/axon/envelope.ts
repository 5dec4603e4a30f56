// The request envelope check on the hot path. protocol's zod schema is the definition; this
// guard is a faster pre-check that accepts only what the schema accepts (tests hold it to
// that). When the guard says no, the schema decides and words the 400 with the field's path.
import { MAX_UUID_LENGTH, parseWith, requestEnvelopeSchema, type Parsed, type RequestEnvelope } from '../../protocol/index.js';

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

export function checkRequestEnvelope(value: unknown): Parsed<RequestEnvelope> {
  if (isRequestEnvelope(value)) return { ok: true, value };
  return parseWith(requestEnvelopeSchema, value);
}
