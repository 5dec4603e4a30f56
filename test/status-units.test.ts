// The status page's pure parts: rentals read from the ledger (host, fingerprint, cores, GPUs,
// each container's state), the request history over the axon's own metrics, and the page
// rendered from a document with hostile text in it (escaped, never markup).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAxonMetrics } from '../src/axon/metrics.js';
import type { StatusDocument } from '../src/status/document.js';
import { requestHistory } from '../src/status/history.js';
import { renderStatusPage, requestGraph } from '../src/status/page.js';
import { formatStatus } from '../src/commands/status.js';
import { parseCpuset } from '../src/resources/cpuset.js';
import { parsePortPool } from '../src/resources/ports.js';
import { holderFingerprint } from '../src/rentals/holder.js';
import type { HostView, HostViews } from '../src/rentals/hosts.js';
import { createLedger } from '../src/rentals/ledger.js';
import { rentalViews } from '../src/rentals/readout.js';
import type { Rental, Workload } from '../src/rentals/record.js';
import type { RentalHost } from '../src/rentals/hosts.js';
import type { WorkloadHealth } from '../src/rentals/runtime.js';

const holderKey = () => Buffer.from(generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).publicKey).toString('base64');

test('cpusets and holder fingerprints', () => {
  assert.is(parseCpuset('0')?.length, 1);
  assert.is(parseCpuset('0-3,6')?.length, 5);
  assert.is(parseCpuset(''), null);
  assert.is(parseCpuset('3-1'), null);
  const key = holderKey();
  const fp = holderFingerprint(key);
  assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.is(holderFingerprint(key), fp, 'stable');
  assert.is.not(holderFingerprint(holderKey()), fp, 'another key, another fingerprint');
  assert.is(holderFingerprint('bm90IGEga2V5'), 'unreadable');
});

test('rental views from the ledger: host, cores and GPUs of the grant, the container\'s state, a host down marks only its own', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'status-units-'));
  try {
    const ledger = createLedger(dir);
    const states = new Map<string, string>([['c-live', 'paused']]);
    const host = (name: string, ports: string, up: boolean): HostView => ({
      host: {
        name, endpoint: `unix:///${name}.sock`, sshPorts: parsePortPool(ports, 'test'), renterPorts: null,
        runtime: { health: async (w: Workload): Promise<WorkloadHealth> => ({ container: states.get(w.container) ?? 'gone', ok: states.has(w.container), restarts: 0 }) },
      } as unknown as RentalHost,
      up, facts: null, checkedAt: Date.now(), ...(up ? {} : { error: 'connect ECONNREFUSED' }),
    });
    const hosts = [host('gpu-1', '4444-4445', true), host('gpu-2', '4444', false)];
    const views: HostViews = { all: () => hosts, get: (name) => hosts.find((v) => v.host.name === name), refresh: async () => undefined };
    const key = holderKey();
    const now = Date.now();
    const rental = (id: string, over: Partial<Rental>, grant: Partial<Rental['grant']> = {}): Rental => ({
      version: 2, id, holderKey: key, role: 'rental', phase: 'live', host: 'gpu-1',
      grant: { cpuset: '0', gpus: [], sshPort: 4444, renterPorts: {}, memoryBytes: 256 * 1024 ** 2, diskBytes: 1024 ** 3, ...grant },
      createdAt: now, deadline: now + 3_600_000, hostKeys: [], keys: {},
      workload: { container: `c-${id.slice(0, 4) === 'aaaa' ? 'live' : id}`, name: `ssh-container-${id}`, image: 'base', ownImage: false },
      ...over,
    });
    ledger.reserve(rental('aaaaaaaa', {}, { cpuset: '0-3,6', gpus: [0, 1] }));
    ledger.reserve(rental('bbbbbbbb', { role: 'test' }, { sshPort: 4445, memoryBytes: 0 }));
    ledger.reserve(rental('cccccccc', { phase: 'starting' }, { sshPort: 4446 }));
    ledger.reserve(rental('dddddddd', { host: 'gpu-2' }));
    const list = await rentalViews(views, ledger, 200)();
    assert.equal(list.map((r) => [r.host, r.port, r.role, r.state]), [
      ['gpu-1', 4444, 'rental', 'paused'],
      ['gpu-1', 4445, 'test', 'gone'],
      ['gpu-1', 4446, 'rental', 'starting'],
      ['gpu-2', 4444, 'rental', 'unreachable'],
    ]);
    const [first, second, third] = list;
    assert.equal([first!.cores, first!.cpuset, first!.gpus, first!.memoryBytes, first!.container], [5, '0-3,6', 2, 256 * 1024 ** 2, 'ssh-container-aaaaaaaa']);
    assert.is(first!.holder, holderFingerprint(key));
    assert.not.ok(JSON.stringify(list).includes(key), 'the holder\'s key only as a fingerprint');
    assert.is(first!.diskBytes, 1024 ** 3);
    assert.is(second!.memoryBytes, null, 'no memory limit');
    assert.is(first!.outsidePool, undefined);
    assert.is(third!.outsidePool, true, 'port 4446 is outside today\'s pool');
    assert.ok(first!.secondsLeft > 3590 && first!.secondsLeft <= 3600);
    assert.is(first!.deadline, new Date(now + 3_600_000).toISOString());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the history counts the axon\'s requests and their mean latency, live in the newest bucket', async () => {
  const metrics = createAxonMetrics({ queueDepth: () => 0, running: () => 0, probationary: () => 0 });
  const history = requestHistory(metrics.registry, { intervalMs: 60_000 });
  try {
    await new Promise((r) => setTimeout(r, 10));
    metrics.observe('Specs', 200, 0.002);
    metrics.observe('Allocate', 200, 0.004);
    const points = await history.points();
    assert.is(points.length, 1);
    assert.is(points[0]!.requests, 2);
    assert.ok(Math.abs(points[0]!.meanMs! - 3) < 1e-9);
  } finally {
    history.stop();
  }
});

const doc = (over: Partial<StatusDocument> = {}): StatusDocument => ({
  hotkey: '5GHtrkSnCChzSQoqcTykrenbhqz3wKess5sBxjutKTeWbFAA', version: '0.1.0', now: '2026-01-01T00:00:00.000Z', uptimeSeconds: 65,
  docker: { reachable: true }, baseImage: { state: 'failed', error: '<script>alert(1)</script>' }, standby: true,
  rentals: [{ host: 'local', role: 'rental', container: 'ssh-container-0123456789abcdef', state: 'dead', holder: 'SHA256:abc', cores: 2, cpuset: '0-1', memoryBytes: 2 * 1024 ** 3, gpus: 0, port: 4444, deadline: '2026-01-01T01:00:00.000Z', secondsLeft: 3600, diskBytes: 10 * 1024 ** 3, events: [] }],
  requests: { intervalSeconds: 60, points: [{ at: '2026-01-01T00:00:00.000Z', requests: 3, meanMs: 1.5 }] },
  challenge: { solver: 'built-in', hashcat: { state: 'off' }, queued: 0 },
  ...over,
});

test('the page escapes every text, shows a dead container as dead, sizes in GiB', () => {
  const html = renderStatusPage(doc());
  assert.not.ok(html.includes('<script>'));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.match(html, /<span class="badge bad">dead<\/span>/);
  assert.match(html, /<td>2 GiB<\/td>/);
  assert.match(html, /<td>1 h<\/td>/);
  assert.not.match(html, /2147483648/);
  assert.match(renderStatusPage(doc({ rentals: [] })), /<p id="no-rentals">No rental\.<\/p>/);
});

test('several hosts: a host column for each rental, a table of hosts with a host down and its reason, the same in the CLI text', () => {
  const base = doc().rentals[0]!;
  const many = doc({
    rentals: [{ ...base, host: 'gpu-1', state: 'running' }, { ...base, host: '<b>gpu-2</b>', state: 'unreachable', port: 4445 }],
    hosts: [
      { name: 'gpu-1', up: true, slots: 4, rentals: 1, baseImage: 'ready' },
      { name: '<b>gpu-2</b>', up: false, error: 'connect ECONNREFUSED 10.0.0.2:2376', slots: 2, rentals: 1, baseImage: 'ready', outsidePool: [4445] },
    ],
  });
  const html = renderStatusPage(many);
  assert.match(html, /<th>host<\/th><th>role<\/th>/);
  assert.match(html, /<tr class="rental"><td>gpu-1<\/td><td>rental<\/td><td><span class="badge ok">running<\/span>/);
  assert.match(html, /<tr class="rental"><td>&lt;b&gt;gpu-2&lt;\/b&gt;<\/td><td>rental<\/td><td><span class="badge bad">unreachable<\/span>/);
  assert.match(html, /<tr class="host"><td>&lt;b&gt;gpu-2&lt;\/b&gt;<\/td><td><span class="badge bad">unreachable<\/span> connect ECONNREFUSED 10\.0\.0\.2:2376<\/td><td><span class="badge ok">ready<\/span><\/td><td>1<\/td>(<td>—<\/td>){5}<td class="outside">port 4445<\/td><\/tr>/, 'a miner that does not say its capacity: dashes');
  assert.not.ok(renderStatusPage(doc()).includes('id="hosts"'));
  const text = formatStatus(many);
  assert.match(text, /^host        gpu-1  up  base image ready  1 rental$/m);
  assert.match(text, /^host        <b>gpu-2<\/b>  DOWN \(connect ECONNREFUSED 10\.0\.0\.2:2376\)  base image ready  1 rental  outside the pool: 4445$/m);
  assert.match(text, /^  gpu-1  rental  running  holder SHA256:abc/m);
  assert.match(text, /^  <b>gpu-2<\/b>  rental  unreachable  .* port 4445 /m);
});

test('one host (no hosts table): every rental is on it, so neither the page nor the CLI text has a host column', () => {
  const one = doc({ rentals: [{ ...doc().rentals[0]!, state: 'running' }] });
  const html = renderStatusPage(one);
  assert.match(html, /<tr class="rental"><td>rental<\/td><td><span class="badge ok">running<\/span>/);
  assert.not.ok(html.includes('<th>host</th>'), 'no host column');
  assert.not.ok(html.includes('<td>local</td>'), 'no host cell');
  assert.match(formatStatus(one), /^  rental  running  holder SHA256:abc  2 cores \(0-1\)  2 GiB  10 GiB disk  GPUs 0  port 4444 /m);
});

test('the rental daemon kept by the miner: answering and restarts on the page and in the CLI text; absent without one', () => {
  const kept = doc({ rentalDaemon: { up: true, restarts: 2, lastRestartAt: '2026-01-01T00:00:30.000Z', liveRestore: true } });
  assert.match(renderStatusPage(kept), /<dd id="rental-daemon">answering; restarted 2 times, last at 2026-01-01T00:00:30\.000Z<\/dd>/);
  assert.match(formatStatus(kept), /^daemon      answering; restarted 2 times, last at 2026-01-01T00:00:30\.000Z$/m);
  const down = doc({ rentalDaemon: { up: false, restarts: 5, nextAttemptAt: '2026-01-01T00:05:00.000Z', lastError: 'did <not> start', liveRestore: false } });
  assert.match(renderStatusPage(down), /NOT answering; restarted 5 times; next try at 2026-01-01T00:05:00\.000Z; last error: did &lt;not&gt; start; without live restore/);
  assert.not.ok(renderStatusPage(doc()).includes('rental-daemon'));
  assert.not.match(formatStatus(doc()), /^daemon/m);
});

test('the graph has one bar per bucket across the whole width, newest on the right, a latency line where there were requests', () => {
  const points = Array.from({ length: 3 }, (_, i) => ({ at: `2026-01-01T00:0${i}:00.000Z`, requests: i, meanMs: i ? i * 2 : null }));
  const svg = requestGraph(points, 60, { nowMs: Date.parse('2026-01-01T00:03:00.000Z'), uptimeSeconds: 180 });
  assert.equal([...svg.matchAll(/<rect x="([\d.]+)"[^>]* width="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]), [[29, 219.3], [250.3, 219.3], [471.7, 219.3]]);
  assert.match(svg, /<polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/, 'two points with latency');
  assert.match(svg, /now · 3 requests/);
});

test.run();
