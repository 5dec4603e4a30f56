// The one place replies are made: every reply, success or error, is built, signed with the
// miner's hotkey and encoded here, so they all have one shape and none carries a stack trace.
import { encode, nextNonce, PROTOCOL_VERSION, replySigningMessage, sign, Status, type Hotkey } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { SynapseError } from './synapse.js';

/** What a reply echoes of its request; fields that could not be read are empty. */
export interface ReplyAddress {
  v: number;
  id: number;
  name: string;
  dendriteHotkey: string;
  uuid: string;
}

/** A refusal decided by the pipeline: a status code and a message for the client. */
export interface Rejection {
  code: number;
  message: string;
  /** Set when the request was refused before reaching a handler: the label /metrics counts it under. */
  reason?: RefusalReason;
}

/** Why a request was refused before reaching a handler. */
export type RefusalReason =
  | 'wrong_axon'
  | 'bad_signature'
  | 'replay'
  | 'not_allowed'
  | 'blacklisted'
  | 'rate_limited'
  | 'hotkey_share'
  | 'in_flight'
  | 'queue_full';

export const reject = (code: number, message: string, reason?: RefusalReason): Rejection => (reason ? { code, message, reason } : { code, message });

// The messages that are the same whatever the request.
export const Rejections = {
  textFrame: reject(Status.BAD_REQUEST, 'text frames are not accepted: send one binary MessagePack map per frame'),
  internal: reject(Status.INTERNAL, 'internal error'),
  timeout: reject(Status.TIMEOUT, 'handler did not finish before the timeout'),
  queueFull: reject(Status.UNAVAILABLE, 'queue is full, retry later', 'queue_full'),
  rateLimited: reject(Status.TOO_MANY_REQUESTS, 'rate limit of this hotkey exceeded', 'rate_limited'),
  hotkeyShareFull: reject(Status.TOO_MANY_REQUESTS, 'too many requests of this hotkey waiting', 'hotkey_share'),
  tooManyInFlight: reject(Status.TOO_MANY_REQUESTS, 'too many requests in flight on this connection', 'in_flight'),
} as const;

/** A handler's failure as a reply: a SynapseError keeps its code, anything else is a logged 500. */
export function rejectionOf(err: unknown, log: Logger): Rejection {
  if (err instanceof SynapseError && Number.isInteger(err.code) && err.code >= 400 && err.code <= 599) {
    return reject(err.code, err.message);
  }
  log.error({ err }, 'handler failed');
  return Rejections.internal;
}

// A handler that serves a cached answer (Specs) may return the same frozen object again and
// again; its encoding is then kept beside it instead of being redone for every reply.
// Freezing is the handler's promise that the object (deeply) no longer changes.
const encodedResponses = new WeakMap<object, Buffer>();

/** The MessagePack body of a handler's result. */
export function encodeResponse(result: unknown): Buffer {
  if (typeof result !== 'object' || result === null || !Object.isFrozen(result)) return encode(result);
  let bytes = encodedResponses.get(result);
  if (!bytes) {
    bytes = encode(result);
    encodedResponses.set(result, bytes);
  }
  return bytes;
}

/** Best-effort address of a message that failed the envelope check, so its 400 can be matched. */
export function addressOf(raw: unknown, id: number): ReplyAddress {
  const r = (raw ?? {}) as Record<string, unknown>;
  const dendrite = (typeof r.dendrite === 'object' && r.dendrite !== null ? r.dendrite : {}) as Record<string, unknown>;
  return {
    v: typeof r.v === 'number' && Number.isSafeInteger(r.v) && r.v >= 0 ? r.v : PROTOCOL_VERSION,
    id,
    name: typeof r.name === 'string' ? r.name.slice(0, 64) : '',
    dendriteHotkey: typeof dendrite.hotkey === 'string' ? dendrite.hotkey.slice(0, 64) : '',
    uuid: typeof dendrite.uuid === 'string' ? dendrite.uuid.slice(0, 128) : '',
  };
}

export class Replier {
  constructor(private readonly hotkey: Hotkey) {}

  /** A 200 reply carrying the encoded synapse response. */
  ok(address: ReplyAddress, body: Uint8Array, processSeconds: number): Buffer {
    return this.frame(address, Status.OK, 'OK', body, processSeconds);
  }

  error(address: ReplyAddress, rejection: Rejection, processSeconds: number): Buffer {
    return this.frame(address, rejection.code, rejection.message, undefined, processSeconds);
  }

  private frame(address: ReplyAddress, code: number, message: string, body: Uint8Array | undefined, processSeconds: number): Buffer {
    const nonce = nextNonce();
    const signature = sign(
      this.hotkey,
      replySigningMessage({
        axonNonce: nonce,
        axonHotkey: this.hotkey.ss58Address,
        dendriteHotkey: address.dendriteHotkey,
        uuid: address.uuid,
        id: address.id,
        code,
        body,
      }),
    );
    return encode({
      v: address.v,
      id: address.id,
      name: address.name,
      status: { code, message },
      body,
      axon: { hotkey: this.hotkey.ss58Address, nonce, signature },
      process_time: processSeconds,
    });
  }
}
