// The status page at `/` on the axon's HTTP port and its JSON at `/status.json`: rendered on
// the server from the status document, one self-contained HTML page (inline CSS and SVG, no
// script, nothing fetched from anywhere; the Content-Security-Policy forbids it), read-only.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { humanBytes, humanDuration } from '../units.js';
import type { HostCapacity } from '../rentals/capacity.js';
import { rentalDaemonText, type HostView, type StatusDocument } from './document.js';
import { recordedSeconds, type HistoryPoint } from './history.js';

/** Seconds between the page's own reloads [10]. */
export const DEFAULT_STATUS_REFRESH_SECONDS = 10;

const escape = (text: unknown) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STATE_CLASS: Record<string, string> = { running: 'ok', ready: 'ok', paused: 'warn', building: 'warn', 'warming-up': 'warn', restarting: 'warn' };
const badge = (state: string) => `<span class="badge ${STATE_CLASS[state] ?? (state === 'off' ? 'none' : 'bad')}">${escape(state)}</span>`;

/**
 * Requests a bucket as bars, mean latency as a line: one inline SVG. The time axis runs from the
 * first recorded bucket to now, never from before the miner started: a young miner's graph is not
 * an hour of empty buckets it never saw.
 */
export function requestGraph(recorded: HistoryPoint[], intervalSeconds: number, clock: { nowMs: number; uptimeSeconds: number }): string {
  const w = 720, h = 160, pad = 28;
  const spanS = recordedSeconds(recorded, clock.nowMs, clock.uptimeSeconds);
  const from = clock.nowMs - spanS * 1000;
  // A bucket that ended before the miner started is not drawn (the newest is always drawn).
  const points = recorded.filter((_, i) => i === recorded.length - 1 || Date.parse(recorded[i + 1]!.at) > from);
  const x = (t: number) => (spanS > 0 ? pad + ((w - 2 * pad) * (Math.min(clock.nowMs, Math.max(from, t)) - from)) / (spanS * 1000) : pad);
  // Each bucket spans from its start to the next one's; the newest (still filling) ends at now, on the right edge.
  const spans = points.map((p, i) => {
    const next = points[i + 1];
    return { start: x(Date.parse(p.at)), end: next ? x(Date.parse(next.at)) : w - pad };
  });
  const maxReq = Math.max(1, ...points.map((p) => p.requests));
  const latencies = points.map((p) => p.meanMs).filter((v): v is number => v !== null);
  const maxMs = Math.max(1, ...latencies);
  const bars = points.map((p, i) => {
    const { start, end } = spans[i]!;
    const bh = ((h - 2 * pad) * p.requests) / maxReq;
    return `<rect x="${(start + 1).toFixed(1)}" y="${(h - pad - bh).toFixed(1)}" width="${Math.max(1, end - start - 2).toFixed(1)}" height="${bh.toFixed(1)}" class="bar"><title>${escape(p.at)}: ${p.requests} requests</title></rect>`;
  }).join('');
  const line = points.map((p, i) => (p.meanMs === null ? null : `${((spans[i]!.start + spans[i]!.end) / 2).toFixed(1)},${(h - pad - ((h - 2 * pad) * p.meanMs) / maxMs).toFixed(1)}`)).filter(Boolean).join(' ');
  const total = points.reduce((a, p) => a + p.requests, 0);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="requests and latency">
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" class="axis"/>
${bars}
${line ? `<polyline points="${line}" class="latency"/>` : ''}
<text x="${pad}" y="16" class="label">requests per ${intervalSeconds} s (bars, max ${maxReq})</text>
<text x="${w - pad}" y="16" class="label end">mean latency (line, max ${maxMs.toFixed(1)} ms)</text>
<text x="${pad}" y="${h - 8}" class="label" id="graph-start">${escape(humanDuration(spanS))} ago</text>
<text x="${w - pad}" y="${h - 8}" class="label end">now · ${total} request${total === 1 ? '' : 's'}</text>
</svg>`;
}

const ofTotal = (free: string | number, total: string | number) => `${free} of ${total}`;

/** One host's free capacity as table cells; "—" where the host has not said what it has. */
function capacityCells(c: HostCapacity | undefined, gpus: boolean): string {
  const none = '<td>—</td>';
  if (!c) return none.repeat(gpus ? 6 : 5);
  const memory = c.memory
    ? `<td>${ofTotal(escape(humanBytes(c.memory.freeBytes)), escape(humanBytes(c.memory.totalBytes)))} <span class="label">(${escape(humanBytes(c.memory.committedBytes))} committed)</span></td>`
    : none;
  const disk = c.disk
    ? `<td>${ofTotal(escape(humanBytes(c.disk.freeBytes)), escape(humanBytes(c.disk.totalBytes)))} <span class="label">(${escape(humanBytes(c.disk.committedBytes))} granted${c.disk.unusedBytes === null ? '' : `, ${escape(humanBytes(c.disk.unusedBytes))} unwritten`})</span></td>`
    : '<td>unknown</td>';
  const standby = c.standby.ready + c.standby.starting === 0
    ? 'none'
    : [c.standby.ready > 0 ? `${c.standby.ready} ready` : '', c.standby.starting > 0 ? `${c.standby.starting} starting` : ''].filter(Boolean).join(', ') +
      ` <span class="label">(port${c.standby.ports.length === 1 ? '' : 's'} ${c.standby.ports.join(', ')})</span>`;
  return `<td>${c.cores ? ofTotal(c.cores.free, c.cores.total) : '—'}</td>${gpus ? `<td>${c.gpus ? ofTotal(c.gpus.free, c.gpus.total) : '—'}</td>` : ''}${memory}${disk}` +
    `<td>${ofTotal(c.sshPorts.free, c.sshPorts.total)}</td><td class="standby">${standby}</td>`;
}

/** Each host: its engine, base image, rentals, and what it has free for the next rental. */
function hostsTable(hosts: HostView[]): string {
  // A GPU column only where some host has a GPU.
  const gpus = hosts.some((h) => (h.capacity?.gpus?.total ?? 0) > 0);
  return `<table id="hosts"><thead><tr><th>host</th><th>engine</th><th>base image</th><th>rentals</th><th>cores free</th>${gpus ? '<th>GPUs free</th>' : ''}<th>memory free</th><th>disk free</th><th>SSH ports free</th><th>standby</th><th>outside the pool</th></tr></thead><tbody>${
    hosts.map((h) => `<tr class="host"><td>${escape(h.name)}</td><td>${badge(h.up ? 'running' : 'unreachable')}${h.error ? ` ${escape(h.error)}` : ''}</td><td>${badge(h.baseImage)}</td><td>${h.rentals}</td>${capacityCells(h.capacity, gpus)}` +
      `<td class="outside">${h.outsidePool?.length ? `port${h.outsidePool.length === 1 ? '' : 's'} ${escape(h.outsidePool.join(', '))}` : '—'}</td></tr>`).join('')
  }</tbody></table>`;
}

export function renderStatusPage(doc: StatusDocument, refreshSeconds = DEFAULT_STATUS_REFRESH_SECONDS): string {
  // A host column only where there is more than one host to tell apart.
  const hosts = (doc.hosts?.length ?? 0) > 1 || new Set(doc.rentals.map((r) => r.host)).size > 1;
  const rentals = doc.rentals.length === 0
    ? `<p id="no-rentals">No rental${doc.rentalsError ? ` (${escape(doc.rentalsError)})` : ''}.</p>`
    : `<table id="rentals"><thead><tr>${hosts ? '<th>host</th>' : ''}<th>role</th><th>state</th><th>holder key</th><th>cores</th><th>memory</th><th>disk</th><th>GPUs</th><th>SSH port</th><th>time left</th><th>deadline</th></tr></thead><tbody>${
      doc.rentals.map((r) => `<tr class="rental">${hosts ? `<td>${escape(r.host ?? '')}</td>` : ''}<td>${escape(r.role)}</td><td>${badge(r.state)}</td><td class="mono">${escape(r.holder)}</td><td>${r.cores} (${escape(r.cpuset)})</td><td>${r.memoryBytes === null ? '—' : escape(humanBytes(r.memoryBytes))}</td><td class="disk">${escape(humanBytes(r.diskBytes))}</td><td>${escape(r.gpus)}</td><td class="port">${r.port}${r.outsidePool ? ' <span class="label">(outside today\'s pool)</span>' : ''}</td><td>${escape(humanDuration(r.secondsLeft))}</td><td class="mono">${escape(r.deadline)}</td></tr>`).join('')
    }</tbody></table>`;
  const hostTable = doc.hosts && doc.hosts.length > 0 ? hostsTable(doc.hosts) : '';
  const clock = { nowMs: Date.parse(doc.now), uptimeSeconds: doc.uptimeSeconds };
  const c = doc.challenge;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${refreshSeconds}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>compute-miner ${escape(doc.hotkey.slice(0, 8))}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.mono{font-family:ui-monospace,monospace;font-size:12px}
table{border-collapse:collapse;background:#fff}td,th{padding:6px 10px;border:1px solid #d8dce3;text-align:left}
dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px;margin:0}dt{color:#5b6475}
.badge{padding:1px 8px;border-radius:9px;color:#fff;font-size:12px}.ok{background:#2f8f4e}.warn{background:#b7791f}.bad{background:#c53030}.none{background:#718096}
svg{background:#fff;border:1px solid #d8dce3}.bar{fill:#90b4e8}.latency{fill:none;stroke:#c05621;stroke-width:2}.axis{stroke:#a0a8b8}
.label{font-size:11px;fill:#5b6475}.end{text-anchor:end}
</style></head><body>
<h1>compute-miner</h1>
<div class="mono" id="hotkey">${escape(doc.hotkey)}</div>
<h2>Machine</h2>
<dl>
<dt>Docker</dt><dd id="docker">${badge(doc.docker.reachable ? 'running' : 'unreachable')}</dd>
${doc.rentalDaemon ? `<dt>rental daemon</dt><dd id="rental-daemon">${escape(rentalDaemonText(doc.rentalDaemon))}</dd>` : ''}
<dt>base image</dt><dd id="base-image">${badge(doc.baseImage.state)}${doc.baseImage.error ? ` ${escape(doc.baseImage.error)}` : ''}</dd>
<dt>standby</dt><dd id="standby">${doc.standby ? 'a started container waits for the next rental' : 'none'}</dd>
${doc.storageLimit ? `<dt>disk limit</dt><dd>${escape(doc.storageLimit)}</dd>` : ''}
<dt>version</dt><dd>${escape(doc.version)}, up ${escape(humanDuration(doc.uptimeSeconds))}</dd>
</dl>
${hostTable ? `<h2>Hosts and free capacity</h2>\n${hostTable}\n` : ''}<h2>Rentals</h2>
${rentals}
<h2>Requests, last ${escape(humanDuration(recordedSeconds(doc.requests.points, clock.nowMs, clock.uptimeSeconds)))}</h2>
${requestGraph(doc.requests.points, doc.requests.intervalSeconds, clock)}
<h2>Challenges</h2>
<dl id="challenge">
<dt>solver</dt><dd>${escape(c.solver)}</dd>
<dt>hashcat</dt><dd>${badge(c.hashcat.state)}${c.hashcat.version ? ` ${escape(c.hashcat.version)}` : ''}${c.hashcat.warmUpSeconds !== undefined ? `, warmed up in ${c.hashcat.warmUpSeconds.toFixed(1)} s` : ''}${c.hashcat.error ? ` ${escape(c.hashcat.error)}` : ''}</dd>
<dt>waiting</dt><dd>${c.queued}</dd>
</dl>
<p class="label">As of ${escape(doc.now)}; reloads every ${refreshSeconds} s. JSON: <a href="/status.json">/status.json</a>, <a href="/health">/health</a>, <a href="/metrics">/metrics</a>.</p>
</body></html>
`;
}

/** Nothing may be fetched or run: inline styles and the inline SVG only. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** The routes `/` and `/status.json` over `collect`. */
export function statusRoutes(collect: () => Promise<StatusDocument>, onError: (err: unknown) => void): Record<string, Route> {
  const serve = (render: (doc: StatusDocument) => string, type: string): Route => (_req, res) => {
    collect().then(
      (doc) => {
        const text = render(doc);
        res.writeHead(200, { ...PAGE_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (err: unknown) => {
        onError(err);
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('status unavailable\n');
      },
    );
  };
  return {
    '/': serve((doc) => renderStatusPage(doc), 'text/html; charset=utf-8'),
    '/status.json': serve((doc) => `${JSON.stringify(doc)}\n`, 'application/json'),
  };
}
