// The axon: one port serving the WebSocket on `/` and plain HTTP GET /health and /metrics.
// It owns transport, verification, queueing and errors; plugins own only their synapse.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Registry } from 'prom-client';
import { CloseCode, type Hotkey, type SynapseName } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import type { AccessPolicy } from './access.js';
import { AxonConnection, ClosingSockets, type AxonCore } from './connection.js';
import { FloodReport } from './flood-report.js';
import { RefusalLog } from './refusal-log.js';
import { createHttpHandler, type HealthSource } from './health.js';
import { HotkeyShares } from './hotkey-share.js';
import { PublicKeyCache } from './keys.js';
import { resolveLimits, type AxonLimits } from './limits.js';
import { createAxonMetrics } from './metrics.js';
import { addressKey, admitConnection } from './probation.js';
import { PriorityQueue } from './queue.js';
import { RateLimiter } from './rate.js';
import { Arrivals } from './arrivals.js';
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
  /**
   * Refuse a hotkey that is not let in (403) and a replayed nonce (401) before checking the
   * signature (default true). false checks every signature first, for measuring what it saves.
   */
  cheapRefusals?: boolean;
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
  // Open connections in the order they opened: the oldest on probation is displaced first.
  const seats = new Set<AxonConnection>();
  const metrics = createAxonMetrics({
    queueDepth: () => queue.depth,
    running: () => queue.active,
    probationary: () => {
      let n = 0;
      for (const seat of seats) if (seat.probationary) n++;
      return n;
    },
  });
  const floods = new FloodReport(log, limits.floodReportIntervalMs, limits.floodReportMinRefusals);
  const closing = new ClosingSockets(limits.maxConnections);
  const core: AxonCore = {
    verifier: new Verifier({
      hotkey: options.hotkey,
      plugins,
      access: options.access,
      keys: new PublicKeyCache(limits.keyCacheSize),
      replay: new ReplayGuard(limits.replayCacheSize),
      maxTimeoutSeconds: limits.maxTimeoutSeconds,
      cheapRefusals: options.cheapRefusals ?? true,
      log,
    }),
    replier: new Replier(options.hotkey),
    queue,
    rate: new RateLimiter(limits.ratePerSecond, limits.rateBurst, limits.rateTableSize),
    arrivals: new Arrivals({ newConnectionsPerSecond: limits.newConnectionsPerSecond, newConnectionsBurst: limits.newConnectionsBurst, earnedAddressMs: limits.earnedAddressMs, tableSize: limits.rateTableSize }),
    shares: new HotkeyShares(limits.maxPendingPerHotkey),
    closing,
    floods,
    refusals: new RefusalLog(log, limits.floodReportIntervalMs, limits.refusalLogLines),
    limits,
    metrics,
    log,
  };

  const http: Server = createServer(
    createHttpHandler({ hotkey: options.hotkey.ss58Address, startedAt: Date.now(), registry: metrics.registry, extra: options.health, routes: options.routes, log }),
  );
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxPayload,
    perMessageDeflate: false,
    clientTracking: true,
    // One 'message' per connection per turn of the event loop: with synchronous events, one
    // turn handled every frame of every chunk a socket had (a flood of 8 connections held it
    // for over 10 s), and the accept, upgrade and first frame of a new connection each waited a turn.
    allowSynchronousEvents: false,
    // ws reads this option, though @types/ws does not list it.
    ...({ closeTimeout: limits.closeTimeoutMs } as object),
  });
  const leave = (connection: AxonConnection) => seats.delete(connection);

  http.on('upgrade', (req, socket: Socket, head) => {
    socket.on('error', () => socket.destroy());
    if ((req.url ?? '/').split('?')[0] !== '/') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const address = addressKey(socket.remoteAddress);
    if (!core.arrivals.admit(address)) {
      // Before the handshake: a refused arrival costs a parse and a short write, nothing more.
      metrics.connectionRefused('arrival_rate');
      floods.connectionEvent('arrival_rate', address);
      socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      metrics.connectionOpened();
      ws.once('close', () => metrics.connectionClosed());
      const admission = admitConnection(seats, address, limits);
      if (!admission.ok) {
        ws.on('error', () => {});
        const reason = admission.reason === 'address is full' ? 'address_full' : 'house_full';
        metrics.connectionRefused(reason);
        floods.connectionEvent(reason, address);
        closing.close(ws, CloseCode.TRY_AGAIN_LATER, admission.reason === 'address is full' ? 'too many connections from this address' : 'too many connections');
        return;
      }
      if (admission.displace) {
        metrics.displaced();
        floods.connectionEvent('displaced', admission.displace.address);
        admission.displace.close(CloseCode.TRY_AGAIN_LATER, 'displaced by a newer connection');
      }
      seats.add(new AxonConnection(ws, core, address, leave));
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
          floods.start();
          resolve({ port });
        });
      });
    },
    async close() {
      floods.stop();
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
