// Plain HTTP beside the WebSocket: GET /health (JSON) and GET /metrics (Prometheus text).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';

export const AXON_VERSION = '0.1.0';

export interface HealthSource {
  hotkey: string;
  startedAt: number;
  registry: Registry;
  /** Extra fields (Docker reachability, allocation state) from the rest of the miner. */
  extra?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  log: Logger;
  /** More read-only GET routes by path (the status page). */
  routes?: Record<string, (req: IncomingMessage, res: ServerResponse) => void>;
}

export function createHttpHandler(source: HealthSource): (req: IncomingMessage, res: ServerResponse) => void {
  const send = (res: ServerResponse, status: number, type: string, text: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET\n');
    const route = path === undefined ? undefined : source.routes?.[path];
    if (route) return route(req, res);
    if (path === '/health') {
      void (async () => {
        let extra: Record<string, unknown> = {};
        try {
          extra = (await source.extra?.()) ?? {};
        } catch (err) {
          source.log.warn({ err }, 'health: extra fields failed');
          extra = { ok: false, error: 'health check of a dependency failed' };
        }
        const body = {
          ...extra,
          hotkey: source.hotkey,
          version: AXON_VERSION,
          uptime: (Date.now() - source.startedAt) / 1000,
        };
        send(res, 200, 'application/json', `${JSON.stringify(body)}\n`);
      })();
      return;
    }
    if (path === '/metrics') {
      source.registry.metrics().then(
        (text) => send(res, 200, source.registry.contentType, text),
        (err) => {
          source.log.error({ err }, 'metrics: collection failed');
          send(res, 500, 'text/plain', 'metrics unavailable\n');
        },
      );
      return;
    }
    send(res, 404, 'text/plain', 'not found: the axon serves WebSocket on /, GET /health and GET /metrics\n');
  };
}
