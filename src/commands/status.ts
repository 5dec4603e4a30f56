// `status [URL]`: what a running miner's status page shows, on the terminal (or --json): its
// hotkey, Docker, the base image, each host and what it has free, each rental, the standby,
// requests and the challenge solver.
import { parseFlags } from '../args.js';
import type { HostCapacity } from '../rentals/capacity.js';
import { rentalDaemonText, type StatusDocument } from '../status/document.js';
import { recordedSeconds } from '../status/history.js';
import { humanBytes, humanDuration } from '../units.js';
import { jsonDocument } from './json-output.js';
import { UsageError } from './usage.js';

/** Seconds to wait for the miner's answer [10]. */
export const DEFAULT_STATUS_TIMEOUT_SECONDS = 10;
export const DEFAULT_STATUS_URL = 'http://127.0.0.1:8091';

const USAGE = `Usage: compute-miner status [URL] [options]
Shows a running miner's state, read from its axon port (GET /status.json; the same page is at / in a browser).
  URL                   the miner's axon: http://host:port, ws://host:port or host:port [${DEFAULT_STATUS_URL}]
  --timeout S           seconds to wait for the answer [${DEFAULT_STATUS_TIMEOUT_SECONDS}]
  --json                print the status document as one JSON document
  -h, --help            this help
`;

/** The status document's address for a miner given as http(s)://, ws(s):// or host:port. */
export function statusUrl(raw: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${JSON.stringify(raw)} is not a URL (e.g. http://127.0.0.1:8091)`);
  }
  if (url.protocol === 'ws:') url.protocol = 'http:';
  if (url.protocol === 'wss:') url.protocol = 'https:';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${JSON.stringify(raw)}: the scheme must be http://, https://, ws:// or wss://`);
  url.pathname = '/status.json';
  url.search = '';
  return url.toString();
}

/** A host's free capacity in one line; '' from a miner that does not say. */
function capacityText(c: HostCapacity | undefined): string {
  if (!c) return '';
  const parts = [
    c.cores ? `cores ${c.cores.free} of ${c.cores.total} free` : 'cores unknown',
    ...(c.gpus && c.gpus.total > 0 ? [`GPUs ${c.gpus.free} of ${c.gpus.total} free`] : []),
    c.memory ? `memory ${humanBytes(c.memory.freeBytes)} of ${humanBytes(c.memory.totalBytes)} free` : 'memory unknown',
    c.disk ? `disk ${humanBytes(c.disk.freeBytes)} of ${humanBytes(c.disk.totalBytes)} free` : 'disk unknown',
    `SSH ports ${c.sshPorts.free} of ${c.sshPorts.total} free`,
    `standby ${c.standby.ready}${c.standby.starting > 0 ? ` (+${c.standby.starting} starting)` : ''}`,
  ];
  return `  ${parts.join(', ')}`;
}

export function formatStatus(doc: StatusDocument): string {
  const lines = [
    `miner       ${doc.hotkey} (version ${doc.version}, up ${humanDuration(doc.uptimeSeconds)})`,
    `docker      ${doc.docker.reachable ? 'reachable' : 'NOT reachable'}`,
    ...(doc.rentalDaemon ? [`daemon      ${rentalDaemonText(doc.rentalDaemon)}`] : []),
    `base image  ${doc.baseImage.state}${doc.baseImage.error ? `: ${doc.baseImage.error}` : ''}`,
    `standby     ${doc.standby ? 'a started container waits for the next rental' : 'none'}`,
  ];
  if (doc.storageLimit) lines.push(`disk limit  ${doc.storageLimit}`);
  for (const h of doc.hosts ?? []) {
    const outside = h.outsidePool?.length ? `  outside the pool: ${h.outsidePool.join(', ')}` : '';
    lines.push(`host        ${h.name}  ${h.up ? 'up' : `DOWN${h.error ? ` (${h.error})` : ''}`}  base image ${h.baseImage}  ${h.rentals} rental${h.rentals === 1 ? '' : 's'}${capacityText(h.capacity)}${outside}`);
  }
  lines.push(`rentals     ${doc.rentals.length === 0 ? 'none' : doc.rentals.length}${doc.rentalsError ? ` (${doc.rentalsError})` : ''}`);
  // The host only where there is more than one to tell apart.
  const manyHosts = (doc.hosts?.length ?? 0) > 1 || new Set(doc.rentals.map((r) => r.host)).size > 1;
  for (const r of doc.rentals) {
    lines.push(
      `  ${manyHosts ? `${r.host}  ` : ''}${r.role}  ${r.state}  holder ${r.holder}  ${r.cores} core${r.cores === 1 ? "" : "s"} (${r.cpuset})  ${r.memoryBytes === null ? 'no memory limit' : humanBytes(r.memoryBytes)}  ${humanBytes(r.diskBytes)} disk  GPUs ${r.gpus}  port ${r.port}  ` +
        `${r.secondsLeft > 0 ? `${humanDuration(r.secondsLeft)} left` : 'time is up'} (until ${r.deadline})`,
    );
  }
  const points = doc.requests.points;
  const total = points.reduce((a, p) => a + p.requests, 0);
  const weighted = points.reduce((a, p) => a + (p.meanMs ?? 0) * p.requests, 0);
  const last = points[points.length - 1];
  const span = humanDuration(recordedSeconds(points, Date.parse(doc.now), doc.uptimeSeconds));
  lines.push(`requests    last ${span}: ${total}${total ? `, mean ${(weighted / total).toFixed(1)} ms` : ''}; this minute: ${last?.requests ?? 0}`);
  const h = doc.challenge.hashcat;
  lines.push(`challenge   solver ${doc.challenge.solver}; hashcat ${h.state}${h.version ? ` ${h.version}` : ''}${h.error ? ` (${h.error})` : ''}; ${doc.challenge.queued} waiting`);
  return `${lines.join('\n')}\n`;
}

export async function runStatus(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' }, timeout: { type: 'string' } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('status takes at most one miner URL');
  const url = statusUrl(positionals[0] ?? DEFAULT_STATUS_URL);
  const timeout = values.timeout === undefined ? DEFAULT_STATUS_TIMEOUT_SECONDS : Number(values.timeout);
  if (!(timeout > 0 && timeout <= 3600) || values.timeout?.trim() === '') throw new UsageError(`--timeout must be seconds > 0 and ≤ 3600, not ${JSON.stringify(values.timeout)}`);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeout * 1000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if ((err as Error).name === 'TimeoutError') throw new Error(`cannot reach ${url}: no answer in ${timeout} s`);
    throw new Error(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  if (res.status === 404) throw new Error(`${url}: not found (is this a compute-miner axon of this version?)`);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  let doc: StatusDocument;
  try {
    doc = (await res.json()) as StatusDocument;
  } catch {
    throw new Error(`${url}: the answer is not JSON (is this a compute-miner axon?)`);
  }
  if (typeof doc?.hotkey !== 'string' || !Array.isArray(doc.rentals)) throw new Error(`${url}: the answer is not a status document`);
  process.stdout.write(values.json ? jsonDocument(doc) : formatStatus(doc));
  return 0;
}
