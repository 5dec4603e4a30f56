// The validator's client of one miner's axon: one WebSocket, many requests in flight matched
// by `id`, every request signed, every reply's signature and axon hotkey verified.
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import {
  checkReplyEnvelope,
  decode,
  encode,
  nextNonce,
  PROTOCOL_VERSION,
  verifyKeyOfAddress,
  readableId,
  replySigningMessage,
  requestSigningMessage,
  sign,
  verify,
  type Hotkey,
  type SynapseName,
  type VerifyKey,
} from '../../protocol/index.js';
import type { Logger } from '../log.js';

export const DEFAULT_DENDRITE_TIMEOUT_MS = 12_000;
/** Slack above the request's own timeout before the client gives up on a reply. */
const REPLY_GRACE_MS = 1_000;

export interface DendriteOptions {
  hotkey: Hotkey;
  /** ws://host:port */
  url: string;
  /** SS58 of the miner; read from GET /health when absent. */
  axonHotkey?: string;
  /** Default timeout of a call, ms (default 12,000). */
  timeoutMs?: number;
  log?: Logger;
}

export interface DendriteReply {
  code: number;
  message: string;
  /** The decoded synapse response map, present when the axon sent a body. */
  body?: unknown;
  /** Seconds the axon says it spent. */
  processTime: number;
  /** Milliseconds from send to verified reply, measured here. */
  latencyMs: number;
}

interface Pending {
  resolve(reply: DendriteReply): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  sentAt: number;
  ws: WebSocket;
}

function onCallTimeout(dendrite: Dendrite, id: number, name: string, timeoutSeconds: number): void {
  dendrite.settle(id, new Error(`${name} request ${id} timed out after ${timeoutSeconds} s`));
}

export class Dendrite {
  readonly uuid = randomUUID();
  private readonly hotkey: Hotkey;
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;
  private expectedAxon: string | undefined;
  private axonKey: VerifyKey | undefined;
  private ws: WebSocket | undefined;
  private connecting: Promise<WebSocket> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(opts: DendriteOptions) {
    this.hotkey = opts.hotkey;
    this.url = opts.url;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_DENDRITE_TIMEOUT_MS;
    this.log = opts.log;
    if (opts.axonHotkey !== undefined) this.setAxonHotkey(opts.axonHotkey);
  }

  get axonHotkey(): string | undefined {
    return this.expectedAxon;
  }

  /** The SS58 address this client signs with: the hotkey a miner lets in or refuses. */
  get dendriteHotkey(): string {
    return this.hotkey.ss58Address;
  }

  private setAxonHotkey(address: string): void {
    this.axonKey = verifyKeyOfAddress(address); // throws on an invalid address
    this.expectedAxon = address;
  }

  /** Opens the connection (learning the axon hotkey first if needed); idempotent. */
  async connect(): Promise<void> {
    await this.socket();
  }

  private async socket(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ws;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<WebSocket> {
    if (!this.expectedAxon) await this.learnAxonHotkey();
    const ws = new WebSocket(this.url, { perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`connecting to ${this.url} timed out`));
      }, this.timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to ${this.url}: ${err.message}`));
      });
    });
    ws.on('error', (err) => this.log?.debug({ err: err.message, url: this.url }, 'dendrite: connection error'));
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary));
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
    this.ws = ws;
    return ws;
  }

  private async learnAxonHotkey(): Promise<void> {
    const healthUrl = new URL('/health', this.url.replace(/^ws/, 'http')).toString();
    let res: Response;
    try {
      res = await fetch(healthUrl, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      // fetch says only "fetch failed"; the reason (refused, timed out, no route) is its cause.
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach ${healthUrl} to learn the miner's hotkey: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (!res.ok) throw new Error(`GET ${healthUrl}: HTTP ${res.status}`);
    const health = (await res.json()) as { hotkey?: unknown };
    if (typeof health.hotkey !== 'string') throw new Error(`GET ${healthUrl}: no hotkey`);
    this.setAxonHotkey(health.hotkey);
  }

  /** Sends one signed request and resolves with the verified reply; rejects on a bad reply, a timeout or a dropped connection. */
  async call(name: SynapseName, body: Record<string, unknown>, opts: { timeoutSeconds?: number } = {}): Promise<DendriteReply> {
    const ws = await this.socket();
    const timeoutSeconds = opts.timeoutSeconds ?? this.timeoutMs / 1000;
    const bodyBytes = encode(body);
    const nonce = nextNonce();
    const axonHotkey = this.expectedAxon!;
    const signature = sign(
      this.hotkey,
      requestSigningMessage({ nonce, dendriteHotkey: this.hotkey.ss58Address, axonHotkey, uuid: this.uuid, name, body: bodyBytes }),
    );
    const id = this.nextId;
    this.nextId = this.nextId >= Number.MAX_SAFE_INTEGER ? 1 : this.nextId + 1;
    const frame = encode({
      v: PROTOCOL_VERSION,
      id,
      name,
      timeout: timeoutSeconds,
      body: bodyBytes,
      dendrite: { hotkey: this.hotkey.ss58Address, nonce, uuid: this.uuid, signature },
      axon: { hotkey: axonHotkey },
    });
    return new Promise<DendriteReply>((resolve, reject) => {
      const timer = setTimeout(onCallTimeout, timeoutSeconds * 1000 + REPLY_GRACE_MS, this, id, name, timeoutSeconds);
      if (ws.readyState !== WebSocket.OPEN) {
        clearTimeout(timer);
        return reject(new Error(`connection to ${this.url} closed before ${name} was sent`));
      }
      this.pending.set(id, { resolve, reject, timer, sentAt: performance.now(), ws });
      // A failed write closes the socket, and closing rejects every call pending on it.
      ws.send(frame);
    });
  }

  /** Resolves or rejects the pending call `id`, once. */
  settle(id: number, outcome: DendriteReply | Error): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (outcome instanceof Error) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (!isBinary) return this.log?.warn({ url: this.url }, 'dendrite: ignoring a text frame');
    let raw: unknown;
    try {
      raw = decode(data);
    } catch {
      return this.log?.warn({ url: this.url }, 'dendrite: ignoring a frame that is not MessagePack');
    }
    const parsed = checkReplyEnvelope(raw);
    if (!parsed.ok) {
      const id = readableId(raw);
      const why = new Error(`malformed reply: ${parsed.message}`);
      if (id !== undefined && this.pending.has(id)) return this.settle(id, why);
      return this.log?.warn({ url: this.url, why: why.message }, 'dendrite: ignoring a malformed reply');
    }
    const reply = parsed.value;
    const pending = this.pending.get(reply.id);
    if (!pending) return this.log?.debug({ id: reply.id }, 'dendrite: reply to no pending request');
    if (reply.axon.hotkey !== this.expectedAxon) {
      return this.settle(reply.id, new Error(`reply signed by ${reply.axon.hotkey}, expected axon ${this.expectedAxon}`));
    }
    const message = replySigningMessage({
      axonNonce: reply.axon.nonce,
      axonHotkey: reply.axon.hotkey,
      dendriteHotkey: this.hotkey.ss58Address,
      uuid: this.uuid,
      id: reply.id,
      code: reply.status.code,
      body: reply.body,
    });
    if (!verify(this.axonKey!, message, reply.axon.signature)) {
      return this.settle(reply.id, new Error('reply signature does not verify'));
    }
    let body: unknown;
    if (reply.body !== undefined) {
      try {
        body = decode(reply.body);
      } catch {
        return this.settle(reply.id, new Error('reply body is not MessagePack'));
      }
    }
    this.settle(reply.id, {
      code: reply.status.code,
      message: reply.status.message,
      body,
      processTime: reply.process_time,
      latencyMs: performance.now() - pending.sentAt,
    });
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (this.ws === ws) this.ws = undefined;
    const why = new Error(`connection to ${this.url} closed (${code}${reason ? ` ${reason}` : ''})`);
    for (const [id, pending] of [...this.pending]) if (pending.ws === ws) this.settle(id, why);
  }

  async close(): Promise<void> {
    const ws = this.ws;
    this.ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000, 'client done');
    });
  }
}
