// The floor under the axon bench: the same signed Specs round trip over the same WebSocket
// library, with only the work the wire contract cannot do without — MessagePack, the SHA-256
// of the body, one signature made and one verified on each side — and none of the axon's
// checks, queue, limits or metrics, nor the dendrite's. The axon's rate divided by this rate
// is how much of the reachable rate the product keeps.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import {
  decode, encode, hotkeyFromSeed, nextNonce, verifyKeyOfAddress, replySigningMessage, requestSigningMessage, sign, verify,
  type Hotkey,
} from '../protocol/index.js';

const THIS_FILE = fileURLToPath(import.meta.url);

interface BareRequest {
  id: number;
  name: string;
  body: Uint8Array;
  dendrite: { hotkey: string; nonce: number; uuid: string; signature: Uint8Array };
  axon: { hotkey: string };
}
interface BareReply {
  id: number;
  status: { code: number };
  body: Uint8Array;
  axon: { hotkey: string; nonce: number; signature: Uint8Array };
}

/** Child process: the bare server; its port goes back over IPC, its CPU time on request. */
async function serveBare(seedHex: string, replyBody: Uint8Array): Promise<void> {
  const miner = hotkeyFromSeed(Buffer.from(seedHex, 'hex'));
  const keys = new Map<string, ReturnType<typeof verifyKeyOfAddress>>();
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const r = decode(data) as BareRequest;
      let key = keys.get(r.dendrite.hotkey);
      if (!key) keys.set(r.dendrite.hotkey, (key = verifyKeyOfAddress(r.dendrite.hotkey)));
      const message = requestSigningMessage({ nonce: r.dendrite.nonce, dendriteHotkey: r.dendrite.hotkey, axonHotkey: r.axon.hotkey, uuid: r.dendrite.uuid, name: r.name, body: r.body });
      const code = verify(key, message, r.dendrite.signature) ? 200 : 401;
      const nonce = nextNonce();
      const signature = sign(miner, replySigningMessage({ axonNonce: nonce, axonHotkey: miner.ss58Address, dendriteHotkey: r.dendrite.hotkey, uuid: r.dendrite.uuid, id: r.id, code, body: replyBody }));
      ws.send(encode({ v: 1, id: r.id, name: r.name, status: { code, message: 'OK' }, body: replyBody, axon: { hotkey: miner.ss58Address, nonce, signature }, process_time: 0 }));
    });
  });
  await new Promise((r) => server.once('listening', r));
  process.send!({ port: (server.address() as { port: number }).port });
  process.on('message', (m: { cpu?: boolean }) => {
    if (m.cpu) process.send!({ cpu: process.cpuUsage() });
  });
  process.on('disconnect', () => process.exit(0));
}

/** One connection of the bare client: one request in flight, every reply's signature verified. */
export class BareClient {
  private ws: WebSocket | undefined;
  private readonly uuid = randomUUID();
  private readonly minerKey;
  private readonly emptyBody = encode({});
  private nextId = 1;
  private waiting: { resolve(r: { code: number; latencyMs: number }): void; sentAt: number } | undefined;

  constructor(private readonly url: string, private readonly hotkey: Hotkey, private readonly minerHotkey: string) {
    this.minerKey = verifyKeyOfAddress(minerHotkey);
  }

  async connect(): Promise<void> {
    const ws = new WebSocket(this.url);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.on('message', (data: Buffer) => this.onReply(decode(data) as BareReply));
    this.ws = ws;
  }

  call(): Promise<{ code: number; latencyMs: number }> {
    const nonce = nextNonce();
    const id = this.nextId++;
    const signature = sign(this.hotkey, requestSigningMessage({ nonce, dendriteHotkey: this.hotkey.ss58Address, axonHotkey: this.minerHotkey, uuid: this.uuid, name: 'Specs', body: this.emptyBody }));
    return new Promise((resolve) => {
      this.waiting = { resolve, sentAt: performance.now() };
      this.ws!.send(encode({ v: 1, id, name: 'Specs', timeout: 12, body: this.emptyBody, dendrite: { hotkey: this.hotkey.ss58Address, nonce, uuid: this.uuid, signature }, axon: { hotkey: this.minerHotkey } }));
    });
  }

  private onReply(r: BareReply): void {
    const ok = verify(this.minerKey, replySigningMessage({ axonNonce: r.axon.nonce, axonHotkey: r.axon.hotkey, dendriteHotkey: this.hotkey.ss58Address, uuid: this.uuid, id: r.id, code: r.status.code, body: r.body }), r.axon.signature);
    const waiting = this.waiting!;
    this.waiting = undefined;
    waiting.resolve({ code: ok ? r.status.code : 0, latencyMs: performance.now() - waiting.sentAt });
  }

  async close(): Promise<void> {
    this.ws?.terminate();
  }
}

export const BARE_SERVER_FILE = THIS_FILE;

if (process.argv[1] === THIS_FILE && process.argv[2] === '--serve-bare') {
  await serveBare(process.argv[3]!, Buffer.from(process.argv[4]!, 'hex'));
}
