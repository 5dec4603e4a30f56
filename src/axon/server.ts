// The axon: one port serving the WebSocket on `/` and plain HTTP GET /health and /metrics.
// It owns transport, verification, queueing and errors; plugins own only their synapse.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Registry } from 'prom-client';
import { CloseCode, type Hotkey, type SynapseName } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import type { AccessPolicy } from './access.js';
import { AxonConnection, type AxonCore } from './connection.js';
import { createHttpHandler, type HealthSource } from './health.js';
import { PublicKeyCache } from './keys.js';
import { resolveLimits, type AxonLimits } from './limits.js';
import { createAxonMetrics } from './metrics.js';
import { PriorityQueue } from './queue.js';
import { RateLimiter } from './rate.js';
import { ReplayGuard } from './replay.js';
import { Replier } from './replies.js';
import type { SynapsePlugin } from './synapse.js';
import { Verifier } from './verify.js';

export const DEFAULT_AXON_HOST = '0.0.0.0';
export const DEFAULT_AXON_PORT = 8091;

export interface AxonOptions {
  /** The miner's hotkey: requests must be addressed to it, replies are signed with it. */
  hotkey: Hotkey;
  /** Default '0.0.0.0'. */
  host?: string;
  /** Default 8091; 0 picks a free port. */
  port?: number;
  plugins: SynapsePlugin[];
  access: AccessPolicy;
  /** Overrides of DEFAULT_LIMITS (src/axon/limits.ts). */
  limits?: Partial<AxonLimits>;
  /** Extra /health fields (Docker reachability, allocation state). */
  health?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** More GET routes beside /health and /metrics (the status page on `/`). */
  routes?: HealthSource['routes'];
  log: Logger;
}

export interface Axon {
  listen(): Promise<{ port: number }>;
  close(): Promise<void>;
  readonly metrics: Registry;
}

export function createAxon(options: AxonOptions): Axon {
  const limits = resolveLimits(options.limits);
  const log = options.log;
  const plugins = new Map<string, SynapsePlugin>();
  const concurrency = new Map<SynapseName, number>();
  for (const plugin of options.plugins) {
    if (plugins.has(plugin.name)) throw new Error(`synapse ${plugin.name} is registered twice`);
    if (!(Number.isInteger(plugin.concurrency) && plugin.concurrency >= 1)) throw new Error(`synapse ${plugin.name}: concurrency must be an integer ≥ 1`);
    plugins.set(plugin.name, plugin);
    concurrency.set(plugin.name, plugin.concurrency);
  }
  const queue = new PriorityQueue(limits.maxQueued, limits.maxRunning, concurrency);
  const metrics = createAxonMetrics(() => queue.depth, () => queue.active);
  const core: AxonCore = {
    verifier: new Verifier({
      hotkey: options.hotkey,
      plugins,
      access: options.access,
      keys: new PublicKeyCache(limits.keyCacheSize),
      replay: new ReplayGuard(limits.replayCacheSize),
      maxTimeoutSeconds: limits.maxTimeoutSeconds,
      log,
    }),
    replier: new Replier(options.hotkey),
    queue,
    rate: new RateLimiter(limits.ratePerSecond, limits.rateBurst, limits.rateTableSize),
    limits,
    metrics,
    log,
  };

  const http: Server = createServer(
    createHttpHandler({ hotkey: options.hotkey.ss58Address, startedAt: Date.now(), registry: metrics.registry, extra: options.health, routes: options.routes, log }),
  );
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayload, perMessageDeflate: false, clientTracking: true });
  let open = 0;

  http.on('upgrade', (req, socket: Socket, head) => {
    socket.on('error', () => socket.destroy());
    if ((req.url ?? '/').split('?')[0] !== '/') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      if (open >= limits.maxConnections) {
        ws.on('error', () => {});
        ws.close(CloseCode.TRY_AGAIN_LATER, 'too many connections');
        return;
      }
      open++;
      metrics.connectionOpened();
      ws.once('close', () => {
        open--;
        metrics.connectionClosed();
      });
      new AxonConnection(ws, core);
    });
  });
  http.on('clientError', (_err, socket) => socket.destroy());

  return {
    metrics: metrics.registry,
    listen() {
      return new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(options.port ?? DEFAULT_AXON_PORT, options.host ?? DEFAULT_AXON_HOST, () => {
          http.off('error', reject);
          const port = (http.address() as AddressInfo).port;
          log.debug({ port, synapses: [...plugins.keys()] }, 'axon listening');
          resolve({ port });
        });
      });
    },
    async close() {
      for (const ws of wss.clients) ws.close(CloseCode.GOING_AWAY, 'axon is shutting down');
      await new Promise<void>((resolve) => {
        // Peers that do not finish the closing handshake are cut off.
        const force = setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 1000);
        wss.close(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
