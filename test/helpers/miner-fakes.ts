// Misbehaving miners for the checker's tests: real axons (createAxon) whose Allocate plugin
// lies or stalls, a hotkey that claims one address and signs with another, SSH servers that
// accept or reject a password, and a TCP port that accepts and never says a word.
import { createServer, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import {
  allocateIntent, allocateRequestSchema, generateHotkey, type AllocateIntent, type AllocateRequest, type AllocateResponse, type Hotkey,
} from '../../protocol/index.js';
import type { RequestContext, SynapsePlugin } from '../../src/axon/synapse.js';
import { startTestAxon, type TestAxon } from './axon.js';
import { sshKeyPair } from './ssh-keys.js';

export type FakeAnswer = (req: AllocateRequest, intent: AllocateIntent, ctx: RequestContext) => Promise<AllocateResponse> | AllocateResponse;

/** An Allocate plugin with the real request schema and a made-up answer. */
export function fakeAllocatePlugin(answer: FakeAnswer): SynapsePlugin {
  return {
    name: 'Allocate',
    schema: allocateRequestSchema,
    concurrency: 4,
    forward: async (req: AllocateRequest, ctx: RequestContext) => answer(req, allocateIntent(req), ctx),
  };
}

export const output = (status: boolean, extra: { info?: string; port?: number; error?: string; host_keys?: string[]; host?: string } = {}): AllocateResponse => ({
  output: {
    status, port: extra.port ?? 0, ...(extra.info !== undefined ? { info: extra.info } : {}), ...(extra.error !== undefined ? { error: extra.error } : {}),
    ...(extra.host_keys !== undefined ? { host_keys: extra.host_keys } : {}),
    ...(extra.host !== undefined ? { host: extra.host } : {}),
  },
});

/** A miner whose Allocate is `answer`; `hotkey` lets it claim an address it cannot sign for. */
export function startFakeMiner(answer: FakeAnswer, hotkey?: Hotkey): Promise<TestAxon> {
  return startTestAxon({ plugins: [fakeAllocatePlugin(answer)], hotkey });
}

/** Claims (and reports on /health) one address but signs replies with another key. */
export function impostorHotkey(): Hotkey {
  const claimed = generateHotkey();
  const signer = generateHotkey();
  return { seed: signer.seed, publicKey: signer.publicKey, signingKey: signer.signingKey, ss58Address: claimed.ss58Address };
}

/** Resolves when the request's deadline aborts it: a handler that never finishes on its own. */
export const hang = (ctx: RequestContext): Promise<never> =>
  new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));

export interface TestSshServer {
  port: number;
  /** Password attempts seen, accepted or not. */
  attempts: string[];
  /** The server's host public key, an OpenSSH line. */
  hostKey: string;
  close(): Promise<void>;
}

/** An SSH server on 127.0.0.1 (or another loopback `address`) that lets `root` in only with `password` (never, when null) and answers any command with "ok". */
export function startSshServer(password: string | null, address = '127.0.0.1'): Promise<TestSshServer> {
  const hostKey = sshKeyPair('host');
  const attempts: string[] = [];
  const clients = new Set<ssh2.Connection>();
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'password') return ctx.reject(['password']);
      attempts.push(ctx.password);
      if (password !== null && ctx.username === 'root' && ctx.password === password) ctx.accept();
      else ctx.reject(['password']);
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec) => {
          const stream = acceptExec();
          stream.write('ok\n');
          stream.exit(0);
          stream.end();
        });
      });
    });
  });
  return listenOnLoopback(server, () => { for (const c of clients) c.end(); }, address).then((l) => ({ ...l, attempts, hostKey: hostKey.public }));
}

/** A port that accepts TCP connections and never answers: not even the WebSocket upgrade. */
export function startSilentListener(): Promise<{ port: number; url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  return listenOnLoopback(server, () => { for (const s of sockets) s.destroy(); }).then((l) => ({ ...l, url: `ws://127.0.0.1:${l.port}` }));
}

/** Listens on a free port of 127.0.0.1 (or another loopback address); close() drops the open connections, then the server. */
function listenOnLoopback(
  server: { listen(port: number, host: string, cb: () => void): unknown; once(event: 'error', cb: (err: Error) => void): unknown; address(): unknown; close(cb: () => void): unknown },
  dropConnections: () => void,
  address = '127.0.0.1',
): Promise<{ port: number; close(): Promise<void> }> {
  if (!address.startsWith('127.')) throw new Error('test servers listen on loopback only');
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address() as { port: number };
      resolve({
        port,
        close: () => new Promise<void>((done) => {
          dropConnections();
          server.close(() => done());
        }),
      });
    });
  });
}
