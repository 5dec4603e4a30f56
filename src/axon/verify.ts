// The verification pipeline, in PROTOCOL.md's order:
//   1 envelope shape 400 → unknown name 404 → unsupported version 400
//   2 wrong axon hotkey 401   3 bad signature 401   4 replayed or stale nonce 401
//   5 deny / allow / stake / plugin blacklist 403   6 body 422 (with the field's path)
// Step 7 (rate, in-flight, queue, timeout) belongs to the server, which owns those resources.
// Cheap refusals first: the access decision of step 5 and the nonce check of step 4 read
// only the envelope and change no state, so they run before the signature check (PROTOCOL.md
// allows the 403 there; 3 and 4 share their code): a stranger or a replay costs no signature.
// The plugin's blacklist still runs after the signature, as it may trust what it reads.
// A nonce is remembered only once the caller passes step 5, so hotkeys that are not let in
// cannot fill the replay memory.
import {
  checkRequestEnvelope,
  CloseCode,
  decode,
  parseWith,
  PROTOCOL_VERSION,
  readableId,
  requestSigningMessage,
  Status,
  verify,
  type Hotkey,
} from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { decideAccess, type AccessPolicy } from './access.js';
import { AxonRequestContext } from './context.js';
import type { PublicKeyCache } from './keys.js';
import { addressOf, reject, rejectionOf, type RefusalReason, type Rejection, type ReplyAddress } from './replies.js';
import type { ReplayGuard } from './replay.js';
import type { SynapsePlugin } from './synapse.js';

export interface VerifiedRequest {
  address: ReplyAddress;
  plugin: SynapsePlugin;
  body: unknown;
  ctx: AxonRequestContext;
}

export type Verdict =
  | { ok: true; request: VerifiedRequest }
  /** `accepted`: the caller passed steps 2–5 (signature good, hotkey let in) before this refusal. */
  | { ok: false; address: ReplyAddress; rejection: Rejection; accepted: boolean }
  /** Not even an id to answer to: the connection is closed with this code. */
  | { ok: false; address: null; closeCode: number; reason: string };

function fail(address: ReplyAddress, code: number, message: string, reason?: RefusalReason): Verdict {
  return { ok: false, address, rejection: reject(code, message, reason), accepted: false };
}

/** A refusal after the caller was accepted (its body, or its plugin's verify()). */
function failAccepted(address: ReplyAddress, rejection: Rejection): Verdict {
  return { ok: false, address, rejection, accepted: true };
}

export interface VerifierDeps {
  hotkey: Hotkey;
  plugins: ReadonlyMap<string, SynapsePlugin>;
  access: AccessPolicy;
  keys: PublicKeyCache;
  replay: ReplayGuard;
  maxTimeoutSeconds: number;
  /** Access and nonce checks before the signature (see the top of this file); false: after it. */
  cheapRefusals: boolean;
  log: Logger;
}

export class Verifier {
  constructor(private readonly deps: VerifierDeps) {}

  /** Runs steps 1–6 on a decoded frame that arrived at `receivedAt` (ms since the epoch). */
  verify(raw: unknown, receivedAt: number): Verdict {
    const deps = this.deps;
    // 1. shape, name, version
    const shape = checkRequestEnvelope(raw);
    if (!shape.ok) {
      const id = readableId(raw);
      if (id === undefined) return { ok: false, address: null, closeCode: CloseCode.INVALID_PAYLOAD, reason: 'not a request envelope and no readable id' };
      return { ok: false, address: addressOf(raw, id), rejection: reject(Status.BAD_REQUEST, `envelope: ${shape.message}`), accepted: false };
    }
    const envelope = shape.value;
    const { dendrite } = envelope;
    const address: ReplyAddress = { v: envelope.v, id: envelope.id, name: envelope.name, dendriteHotkey: dendrite.hotkey, uuid: dendrite.uuid };
    const plugin = deps.plugins.get(envelope.name);
    if (!plugin) return fail(address, Status.NOT_FOUND, `unknown synapse "${envelope.name}"`);
    if (envelope.v !== PROTOCOL_VERSION) return fail(address, Status.BAD_REQUEST, `unsupported protocol version ${envelope.v} (this axon speaks ${PROTOCOL_VERSION})`);
    // 2. addressed to this miner
    if (envelope.axon.hotkey !== deps.hotkey.ss58Address) return fail(address, Status.UNAUTHORIZED, 'request is addressed to another axon hotkey', 'wrong_axon');
    const timeoutSeconds = Math.min(envelope.timeout, deps.maxTimeoutSeconds);
    // 5 and 4 before 3, when cheapRefusals: they read only the envelope and change nothing.
    let access = deps.cheapRefusals ? decideAccess(deps.access, dendrite.hotkey) : undefined;
    if (access && !access.ok) return fail(address, Status.FORBIDDEN, access.message, 'not_allowed');
    if (deps.cheapRefusals) {
      const stale = deps.replay.check(dendrite.hotkey, dendrite.uuid, dendrite.nonce, timeoutSeconds, receivedAt);
      if (stale) return fail(address, Status.UNAUTHORIZED, stale, 'replay');
    }
    // 3. signature
    const key = deps.keys.get(dendrite.hotkey);
    if (!key) return fail(address, Status.UNAUTHORIZED, 'dendrite hotkey is not a valid SS58 address', 'bad_signature');
    const message = requestSigningMessage({
      nonce: dendrite.nonce,
      dendriteHotkey: dendrite.hotkey,
      axonHotkey: envelope.axon.hotkey,
      uuid: dendrite.uuid,
      name: envelope.name,
      body: envelope.body,
    });
    if (!verify(key, message, dendrite.signature)) return fail(address, Status.UNAUTHORIZED, 'signature does not verify', 'bad_signature');
    // 4. replay (already checked when cheapRefusals)
    if (!deps.cheapRefusals) {
      const stale = deps.replay.check(dendrite.hotkey, dendrite.uuid, dendrite.nonce, timeoutSeconds, receivedAt);
      if (stale) return fail(address, Status.UNAUTHORIZED, stale, 'replay');
    }
    // 5. access (already decided when cheapRefusals)
    access ??= decideAccess(deps.access, dendrite.hotkey);
    if (!access.ok) return fail(address, Status.FORBIDDEN, access.message, 'not_allowed');
    const ctx = new AxonRequestContext(
      dendrite.hotkey,
      access.stake,
      receivedAt + timeoutSeconds * 1000,
      receivedAt,
      deps.log,
      envelope.name,
      envelope.id,
    );
    let refusal: string | null | undefined;
    try {
      refusal = plugin.blacklist?.(ctx);
    } catch (err) {
      return { ok: false, address, rejection: rejectionOf(err, deps.log), accepted: false };
    }
    if (refusal) return fail(address, Status.FORBIDDEN, refusal, 'blacklisted');
    deps.replay.accept(dendrite.hotkey, dendrite.uuid, dendrite.nonce);
    // 6. body
    let decoded: unknown;
    try {
      decoded = decode(envelope.body);
    } catch {
      return failAccepted(address, reject(Status.UNPROCESSABLE, '(body): is not MessagePack'));
    }
    // A MessagePack map decodes to a plain object; anything else (msgpackr's 0xC1 marker included) is refused.
    if (typeof decoded !== 'object' || decoded === null || Object.getPrototypeOf(decoded) !== Object.prototype) {
      return failAccepted(address, reject(Status.UNPROCESSABLE, '(body): must be a map'));
    }
    let body: ReturnType<typeof parseWith>;
    try {
      body = parseWith(plugin.schema, decoded);
      if (body.ok) plugin.verify?.(body.value, ctx);
    } catch (err) {
      // A SynapseError from verify() decides the code; a throwing schema refinement is a bug (500).
      return failAccepted(address, rejectionOf(err, deps.log));
    }
    if (!body.ok) return failAccepted(address, reject(Status.UNPROCESSABLE, body.message));
    return { ok: true, request: { address, plugin, body: body.value, ctx } };
  }
}
