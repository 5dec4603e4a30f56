// The status page's pure parts: rentals derived from the record (fingerprint, cores, GPUs),
// the request history over the axon's own metrics, and the page rendered from a document with
// hostile text in it (escaped, never markup).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { createAxonMetrics } from '../src/axon/metrics.js';
import type { StatusDocument } from '../src/status/document.js';
import { requestHistory } from '../src/status/history.js';
import { renderStatusPage, requestGraph } from '../src/status/page.js';
import { formatStatus } from '../src/commands/status.js';
import { cpusetSize, gpusOf, holderFingerprint } from '../src/status/rentals.js';

test('cpusets, GPU device requests and holder fingerprints', () => {
  assert.is(cpusetSize('0'), 1);
  assert.is(cpusetSize('0-3,6'), 5);
  assert.is(cpusetSize(''), 0);
  assert.is(gpusOf(null), 0);
  assert.is(gpusOf([{ Count: -1 }]), 'all');
  assert.is(gpusOf([{ DeviceIDs: ['0', '1'] }]), 2);
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const fp = holderFingerprint(Buffer.from(publicKey).toString('base64'));
  assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.is(holderFingerprint(Buffer.from(publicKey).toString('base64')), fp, 'stable');
  assert.is(holderFingerprint('bm90IGEga2V5'), 'unreadable');
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
  rentals: [{ role: 'ssh-container', container: 'ssh-container', state: 'dead', holder: 'SHA256:abc', cores: 2, cpuset: '0-1', memoryBytes: 2 * 1024 ** 3, gpus: 0, port: 4444, deadline: '2026-01-01T01:00:00.000Z', secondsLeft: 3600 }],
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
      { name: '<b>gpu-2</b>', up: false, error: 'connect ECONNREFUSED 10.0.0.2:2376', slots: 2, rentals: 1, baseImage: 'ready' },
    ],
  });
  const html = renderStatusPage(many);
  assert.match(html, /<th>host<\/th><th>role<\/th>/);
  assert.match(html, /<tr class="rental"><td>gpu-1<\/td><td>ssh-container<\/td><td><span class="badge ok">running<\/span>/);
  assert.match(html, /<tr class="rental"><td>&lt;b&gt;gpu-2&lt;\/b&gt;<\/td><td>ssh-container<\/td><td><span class="badge bad">unreachable<\/span>/);
  assert.match(html, /<tr class="host"><td>&lt;b&gt;gpu-2&lt;\/b&gt;<\/td><td><span class="badge bad">unreachable<\/span> connect ECONNREFUSED 10\.0\.0\.2:2376<\/td><td><span class="badge ok">ready<\/span><\/td><td>1 of 2<\/td><\/tr>/);
  assert.not.ok(renderStatusPage(doc()).includes('<th>host</th>'), 'one host, one port: no host column');
  assert.not.ok(renderStatusPage(doc()).includes('id="hosts"'));
  const text = formatStatus(many);
  assert.match(text, /^host        gpu-1  up  base image ready  1 of 4 rented$/m);
  assert.match(text, /^host        <b>gpu-2<\/b>  DOWN \(connect ECONNREFUSED 10\.0\.0\.2:2376\)  base image ready  1 of 2 rented$/m);
  assert.match(text, /^  gpu-1  ssh-container  running  holder SHA256:abc/m);
  assert.match(text, /^  <b>gpu-2<\/b>  ssh-container  unreachable  .* port 4445 /m);
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

test('the graph has one slot per bucket of the hour, newest on the right, a latency line where there were requests', () => {
  const points = Array.from({ length: 3 }, (_, i) => ({ at: `2026-01-01T00:0${i}:00.000Z`, requests: i, meanMs: i ? i * 2 : null }));
  const svg = requestGraph(points, 60, 61);
  assert.is((svg.match(/<rect /g) ?? []).length, 3);
  assert.match(svg, /<polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/, 'two points with latency');
  assert.match(svg, /now · 3 requests/);
});

test.run();
