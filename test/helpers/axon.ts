// Test helpers for the axon: a real axon on 127.0.0.1 with an ephemeral port, small plugins,
// hand-built signed requests, and a raw WebSocket client that sees replies and close codes.
import WebSocket from 'ws';
import { z } from 'zod';
import {
  decode,
  encode,
  generateHotkey,
  nextNonce,
  PROTOCOL_VERSION,
  replySigningMessage,
  requestSigningMessage,
  sign,
  verify,
  verifyKeyOfAddress,
  type Hotkey,
  type SynapseName,
} from '../../protocol/index.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { AccessPolicy } from '../../src/axon/access.js';
import type { AxonLimits } from '../../src/axon/limits.js';
import { createAxon, type Axon } from '../../src/axon/server.js';
import type { RequestContext, SynapsePlugin } from '../../src/axon/synapse.js';

export interface TestAxon {
  axon: Axon;
  hotkey: Hotkey;
  port: number;
  url: string;
  close(): Promise<void>;
}

export const openAccess = (): AccessPolicy => ({ allowAny: true, allow: new Map(), deny: new Set(), minStake: 0 });

export async function startTestAxon(opts: {
  plugins: SynapsePlugin[];
  access?: AccessPolicy;
  limits?: Partial<AxonLimits>;
  health?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  hotkey?: Hotkey;
  port?: number;
  cheapRefusals?: boolean;
  log?: Logger;
}): Promise<TestAxon> {
  const hotkey = opts.hotkey ?? generateHotkey();
  const axon = createAxon({
    hotkey,
    host: '127.0.0.1',
    port: opts.port ?? 0,
    plugins: opts.plugins,
    access: opts.access ?? openAccess(),
    limits: opts.limits,
    health: opts.health,
    cheapRefusals: opts.cheapRefusals,
    log: opts.log ?? silentLogger(),
  });
  const { port } = await axon.listen();
  return { axon, hotkey, port, url: `ws://127.0.0.1:${port}`, close: () => axon.close() };
}

export const echoSchema = z.object({ say: z.string().max(100).optional(), wait_ms: z.number().int().min(0).optional() });

/** A plugin answering `{ echo: say, hotkey, stake }`, optionally after `wait_ms`. */
export function echoPlugin(name: SynapseName = 'Specs', extra: Partial<SynapsePlugin> = {}): SynapsePlugin {
  return {
    name,
    schema: echoSchema,
    concurrency: 8,
    async forward(req: z.infer<typeof echoSchema>, ctx: RequestContext) {
      if (req.wait_ms) await new Promise((r) => setTimeout(r, req.wait_ms));
      return { echo: req.say ?? null, hotkey: ctx.hotkey, stake: ctx.stake };
    },
    ...extra,
  };
}

export interface RequestFields {
  hotkey: Hotkey;
  axonHotkey: string;
  name?: string;
  body?: Record<string, unknown> | Uint8Array;
  id?: number;
  v?: number;
  timeout?: number;
  nonce?: number;
  uuid?: string;
}

/** A signed request envelope (not yet encoded), as PROTOCOL.md defines it. */
export function signedEnvelope(f: RequestFields): Record<string, unknown> {
  const body = f.body instanceof Uint8Array ? f.body : encode(f.body ?? {});
  const nonce = f.nonce ?? nextNonce();
  const uuid = f.uuid ?? 'test-client';
  const name = f.name ?? 'Specs';
  const signature = sign(f.hotkey, requestSigningMessage({ nonce, dendriteHotkey: f.hotkey.ss58Address, axonHotkey: f.axonHotkey, uuid, name, body }));
  return {
    v: f.v ?? PROTOCOL_VERSION,
    id: f.id ?? 1,
    name,
    timeout: f.timeout ?? 5,
    body,
    dendrite: { hotkey: f.hotkey.ss58Address, nonce, uuid, signature },
    axon: { hotkey: f.axonHotkey },
  };
}

export interface RawReply {
  v: number;
  id: number;
  name: string;
  status: { code: number; message: string };
  body?: Uint8Array;
  axon: { hotkey: string; nonce: number; signature: Uint8Array };
  process_time: number;
}

export type RawEvent = { kind: 'reply'; reply: RawReply } | { kind: 'close'; code: number; reason: string };

/** A bare WebSocket client that sends anything and reports replies and the close code in order. */
export class RawClient {
  private readonly events: RawEvent[] = [];
  private waiters: ((e: RawEvent) => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.push({ kind: 'reply', reply: decode(data) as RawReply }));
    ws.on('close', (code, reason) => this.push({ kind: 'close', code, reason: reason.toString() }));
    ws.on('error', () => {});
  }

  /** `localAddress`: the loopback address to connect from (127.0.0.1 unless given). */
  static async connect(url: string, opts: { localAddress?: string } = {}): Promise<RawClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, localAddress: opts.localAddress });
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  private push(e: RawEvent): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(e);
    else this.events.push(e);
  }

  send(data: Uint8Array | string, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  sendEnvelope(envelope: Record<string, unknown>): void {
    this.send(encode(envelope));
  }

  /** The next reply or close, failing after `ms`. */
  next(ms = 5000): Promise<RawEvent> {
    const e = this.events.shift();
    if (e) return Promise.resolve(e);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no reply or close within ${ms} ms`));
      }, ms);
      const waiter = (ev: RawEvent) => {
        clearTimeout(timer);
        resolve(ev);
      };
      this.waiters.push(waiter);
    });
  }

  async nextReply(ms?: number): Promise<RawReply> {
    const e = await this.next(ms);
    if (e.kind !== 'reply') throw new Error(`expected a reply, connection closed with ${e.code} ${e.reason}`);
    return e.reply;
  }

  async nextClose(ms?: number): Promise<number> {
    const e = await this.next(ms);
    if (e.kind !== 'close') throw new Error(`expected a close, got a reply ${e.reply.status.code} ${e.reply.status.message}`);
    return e.code;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** Whether a raw reply carries a valid signature of `axonHotkey` for this dendrite and uuid. */
export function replySignatureValid(reply: RawReply, axonHotkey: string, dendriteHotkey: string, uuid: string): boolean {
  const message = replySigningMessage({
    axonNonce: reply.axon.nonce,
    axonHotkey: reply.axon.hotkey,
    dendriteHotkey,
    uuid,
    id: reply.id,
    code: reply.status.code,
    body: reply.body,
  });
  return reply.axon.hotkey === axonHotkey && verify(verifyKeyOfAddress(axonHotkey), message, reply.axon.signature);
}

/** Sends one well-formed request on a fresh connection and returns its status code. */
export async function freshRequestWorks(t: TestAxon, client: Hotkey = generateHotkey()): Promise<number> {
  const raw = await RawClient.connect(t.url);
  try {
    raw.sendEnvelope(signedEnvelope({ hotkey: client, axonHotkey: t.hotkey.ss58Address, body: { say: 'again' } }));
    const reply = await raw.nextReply();
    return reply.status.code;
  } finally {
    raw.close();
  }
}
