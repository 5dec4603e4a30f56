// One WebSocket connection: frames in, replies out. A frame walks
//   decode → Verifier (steps 1–6) → rate / in-flight / hotkey share / queue (step 7) → handler → signed reply,
// and every way out of that walk goes through one `answer` that sends exactly one reply.
// Each request also moves the connection's standing (probation.ts): its first accepted
// request ends its probation, and too many refused ones close it.
import type { WebSocket } from 'ws';
import { CloseCode, decode, readableId, Status, type SynapseName } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import type { FloodReport } from './flood-report.js';
import type { RefusalLog } from './refusal-log.js';
import type { HotkeyShares } from './hotkey-share.js';
import type { AxonLimits } from './limits.js';
import type { AxonMetrics } from './metrics.js';
import { NEW_STANDING, nextStanding, refusedTooOften, type RequestOutcome, type Seat, type Standing } from './probation.js';
import type { Job, PriorityQueue, Ticket } from './queue.js';
import type { RateLimiter } from './rate.js';
import type { Arrivals } from './arrivals.js';
import { addressOf, encodeResponse, Rejections, rejectionOf, type Rejection, type Replier, type ReplyAddress } from './replies.js';
import type { Verifier, VerifiedRequest } from './verify.js';

/** RFC 6455 close code for a server-side failure. */
const INTERNAL_ERROR_CLOSE = 1011;

/** What every connection of one axon shares. */
export interface AxonCore {
  verifier: Verifier;
  replier: Replier;
  queue: PriorityQueue;
  rate: RateLimiter;
  arrivals: Arrivals;
  shares: HotkeyShares;
  closing: ClosingSockets;
  floods: FloodReport;
  refusals: RefusalLog;
  limits: AxonLimits;
  metrics: AxonMetrics;
  log: Logger;
}

/**
 * Sockets the axon has closed whose peers have not finished the closing handshake yet. A
 * peer that never answers would keep its socket until closeTimeoutMs; past `max` of them at
 * once, a socket is cut at once instead, so a stream of displaced connections stays bounded.
 */
export class ClosingSockets {
  private count = 0;

  constructor(private readonly max: number) {}

  close(ws: WebSocket, code: number, reason: string): void {
    if (ws.readyState === ws.CLOSED) return;
    if (ws.readyState === ws.CLOSING || this.count >= this.max) {
      ws.terminate();
      return;
    }
    this.count++;
    ws.once('close', () => this.count--);
    ws.close(code, reason);
  }
}

/**
 * A request let into step 7: it ends with exactly one reply, or silently when the connection
 * closes. It is its own queue job: the queue adds only its heap entry.
 */
class PendingRequest implements Job {
  answered = false;
  timer: NodeJS.Timeout | undefined;
  ticket: Ticket | null = null;
  readonly synapse: SynapseName;
  readonly stake: number;

  constructor(
    readonly connection: AxonConnection,
    readonly request: VerifiedRequest,
    readonly startedAt: number,
    readonly priority: number,
  ) {
    this.synapse = request.plugin.name;
    this.stake = request.ctx.stake;
  }

  async run(): Promise<void> {
    if (this.answered) return;
    const { plugin, body, ctx } = this.request;
    let reply: Uint8Array | Rejection;
    try {
      reply = encodeResponse(await plugin.forward(body, ctx));
    } catch (err) {
      if (this.answered) return;
      reply = rejectionOf(err, ctx.log);
    }
    this.connection.answer(this, reply);
  }

  onDeadline(): void {
    this.timer = undefined;
    this.ticket?.cancel();
    this.connection.answer(this, Rejections.timeout);
    this.request.ctx.abort(new Error('deadline passed'));
  }
}

function onDeadline(pending: PendingRequest): void {
  pending.onDeadline();
}

export class AxonConnection implements Seat {
  private readonly pending = new Set<PendingRequest>();
  private idleTimer: NodeJS.Timeout | undefined;
  private standing: Standing = NEW_STANDING;
  /** Set once the axon closes this connection: frames still arriving are not handled. */
  private closing = false;

  /**
   * `address` is the peer's address key (probation.ts); `leave` is called once, when the
   * connection starts closing or is closed, whichever comes first.
   */
  constructor(
    private readonly ws: WebSocket,
    private readonly core: AxonCore,
    readonly address: string,
    private readonly leave: (connection: AxonConnection) => void,
  ) {
    this.idleTimer = setTimeout(() => this.close(CloseCode.POLICY_VIOLATION, 'no request received'), core.limits.idleTimeoutMs);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.closing) return;
      try {
        this.onFrame(data, isBinary);
      } catch (err) {
        // Nothing a peer sends may take the process down; a failure here is a bug, so it is logged.
        core.log.error({ err }, 'axon: frame handling failed');
        this.close(INTERNAL_ERROR_CLOSE, 'internal error');
      }
    });
    ws.on('close', () => this.onClose());
    // ws closes the socket itself on protocol errors (1009 for an oversized frame, 1007 for bad UTF-8).
    ws.on('error', (err) => core.log.debug({ err: err.message }, 'axon: connection error'));
  }

  get probationary(): boolean {
    return this.standing.probationary;
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.core.log.debug({ code, reason }, 'axon: closing connection');
    this.leave(this);
    this.core.closing.close(this.ws, code, reason);
  }

  /** Moves the standing by one request's outcome; closes the connection refused too often. */
  private judge(outcome: RequestOutcome): void {
    if (outcome === 'other') return;
    if (outcome === 'accepted' && this.standing.probationary) this.core.arrivals.earn(this.address);
    this.standing = nextStanding(this.standing, outcome);
    if (!refusedTooOften(this.standing, this.core.limits.maxRefusedPerConnection)) return;
    this.core.metrics.connectionRefused('refused_requests');
    this.core.floods.connectionEvent('closed_for_refusals', this.address);
    this.close(CloseCode.POLICY_VIOLATION, 'too many refused requests');
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    const startedAt = performance.now();
    const receivedAt = Date.now();
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (!isBinary) return this.onTextFrame(data, startedAt);
    let raw: unknown;
    try {
      raw = decode(data);
    } catch {
      return this.close(CloseCode.INVALID_PAYLOAD, 'frame is not MessagePack');
    }
    const verdict = this.core.verifier.verify(raw, receivedAt);
    if (!verdict.ok) {
      if (verdict.address === null) return this.close(verdict.closeCode, verdict.reason);
      this.send(verdict.address, verdict.rejection, startedAt);
      const { code } = verdict.rejection;
      return this.judge(verdict.accepted ? 'accepted' : code === Status.UNAUTHORIZED || code === Status.FORBIDDEN ? 'refused' : 'other');
    }
    this.judge('accepted');
    this.admit(verdict.request, startedAt);
  }

  private onTextFrame(data: Buffer, startedAt: number): void {
    let id: number | undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString('utf8'));
      id = readableId(raw);
    } catch {
      id = undefined;
    }
    if (id === undefined) return this.close(CloseCode.UNSUPPORTED_DATA, 'text frames are not accepted');
    this.send(addressOf(raw, id), Rejections.textFrame, startedAt);
  }

  /** Step 7: rate limit, in-flight cap, queue; then the handler runs under its deadline. */
  private admit(request: VerifiedRequest, startedAt: number): void {
    const { core } = this;
    const { ctx, plugin, address } = request;
    if (!core.rate.take(ctx.hotkey)) return this.send(address, Rejections.rateLimited, startedAt);
    if (this.pending.size >= core.limits.maxInFlightPerConnection) return this.send(address, Rejections.tooManyInFlight, startedAt);
    if (!core.shares.take(ctx.hotkey)) return this.send(address, Rejections.hotkeyShareFull, startedAt);
    let priority = 0;
    try {
      priority = plugin.priority?.(ctx) ?? 0;
    } catch (err) {
      core.log.warn({ err, synapse: plugin.name }, 'axon: priority() failed; using 0');
    }
    const pending = new PendingRequest(this, request, startedAt, priority);
    this.pending.add(pending);
    // The same delay for the same timeout lets Node keep these timers in one list.
    pending.timer = setTimeout(onDeadline, ctx.deadline - ctx.receivedAt, pending);
    const ticket = core.queue.submit(pending);
    if (!ticket) return this.answer(pending, Rejections.queueFull);
    pending.ticket = ticket;
  }

  /** Sends the one reply of a pending request: encoded response bytes, or a rejection. */
  answer(pending: PendingRequest, reply: Uint8Array | Rejection): void {
    if (pending.answered) return;
    pending.answered = true;
    if (pending.timer) clearTimeout(pending.timer);
    this.pending.delete(pending);
    this.core.shares.release(pending.request.ctx.hotkey);
    this.send(pending.request.address, reply, pending.startedAt);
  }

  private send(address: ReplyAddress, reply: Uint8Array | Rejection, startedAt: number): void {
    const { core, ws } = this;
    const seconds = (performance.now() - startedAt) / 1000;
    const ok = reply instanceof Uint8Array;
    core.metrics.observe(address.name, ok ? 200 : reply.code, seconds);
    if (!ok && reply.reason) {
      core.metrics.refused(reply.reason);
      core.floods.refusedRequest(reply.reason, this.address, address.dendriteHotkey);
      core.refusals.refused(reply.reason, reply.message, address.dendriteHotkey, this.address, address.name);
    }
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > core.limits.maxBufferedBytes) return this.close(CloseCode.POLICY_VIOLATION, 'replies are not being read');
    ws.send(ok ? core.replier.ok(address, reply, seconds) : core.replier.error(address, reply, seconds));
  }

  private onClose(): void {
    this.closing = true;
    this.leave(this);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    // Requests of a closed connection end silently; their handlers see the abort.
    for (const pending of this.pending) {
      pending.answered = true;
      if (pending.timer) clearTimeout(pending.timer);
      this.core.shares.release(pending.request.ctx.hotkey);
      pending.ticket?.cancel();
      pending.request.ctx.abort(new Error('connection closed'));
    }
    this.pending.clear();
  }
}
