// The exact byte strings that requests and replies are signed over (PROTOCOL.md).
import * as crypto from 'node:crypto';

const EMPTY = Buffer.alloc(0);
// The one-shot hash (Node ≥ 20.12) skips the Hash object: about twice as fast on a small body.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

export function sha256Hex(bytes: Uint8Array | undefined): string {
  const data = bytes ?? EMPTY;
  return oneShot ? oneShot('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}

export interface RequestSigningFields {
  nonce: number;
  dendriteHotkey: string;
  axonHotkey: string;
  uuid: string;
  name: string;
  body: Uint8Array;
}

export function requestSigningMessage(f: RequestSigningFields): Buffer {
  return Buffer.from(`${f.nonce}.${f.dendriteHotkey}.${f.axonHotkey}.${f.uuid}.${f.name}.${sha256Hex(f.body)}`, 'utf8');
}

export interface ReplySigningFields {
  axonNonce: number;
  axonHotkey: string;
  dendriteHotkey: string;
  uuid: string;
  id: number;
  code: number;
  body: Uint8Array | undefined;
}

export function replySigningMessage(f: ReplySigningFields): Buffer {
  return Buffer.from(
    `${f.axonNonce}.${f.axonHotkey}.${f.dendriteHotkey}.${f.uuid}.${f.id}.${f.code}.${sha256Hex(f.body)}`,
    'utf8',
  );
}

/** Microseconds since the Unix epoch, strictly increasing within this process. */
let lastNonce = 0;
export function nextNonce(nowMs: number = Date.now()): number {
  const candidate = Math.floor(nowMs * 1000);
  lastNonce = candidate > lastNonce ? candidate : lastNonce + 1;
  return lastNonce;
}
