// What the status page and /status.json say, from a readout built by hand (a ledger and two hosts'
// views, no engine): each rental's role (rental or test, never a container label) and disk, each
// host's free capacity (cores, GPUs, memory, disk of the pool, SSH ports, standby, ports outside
// the pool), and a request graph whose time axis starts where the miner did.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatStatus } from '../src/commands/status.js';
import { parsePortPool } from '../src/resources/ports.js';
import type { HostView, HostViews, RentalHost } from '../src/rentals/hosts.js';
import { createLedger } from '../src/rentals/ledger.js';
import { rentalsState, rentalViews } from '../src/rentals/readout.js';
import type { Rental } from '../src/rentals/record.js';
import type { HostFacts, WarmSlot } from '../src/rentals/runtime.js';
import { statusCollector, type StatusDocument } from '../src/status/document.js';
import type { HistoryPoint } from '../src/status/history.js';
import { renderStatusPage, requestGraph, statusRoutes } from '../src/status/page.js';

const GiB = 1024 ** 3;
const holderKey = Buffer.from(generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).publicKey).toString('base64');

function host(name: string, ports: string, facts: HostFacts | null, warm: { slots: WarmSlot[]; ready: number }): HostView {
  return {
    host: {
      name, endpoint: `unix:///${name}.sock`, sshPorts: parsePortPool(ports, 'test'), renterPorts: null,
      runtime: {
        health: async () => ({ container: 'running', ok: true, restarts: 0 }),
        baseImage: () => ({ state: 'ready' }),
        warm: { ready: () => warm.ready, slots: () => warm.slots },
      },
    } as unknown as RentalHost,
    up: facts !== null, facts, checkedAt: Date.now(), ...(facts ? {} : { error: 'connect ECONNREFUSED' }),
  };
}

function rental(id: string, over: Partial<Rental>, grant: Partial<Rental['grant']>): Rental {
  const now = Date.now();
  return {
    version: 2, id, holderKey, role: 'rental', phase: 'live', host: 'gpu-1',
    grant: { cpuset: '0', gpus: [], sshPort: 4444, renterPorts: {}, memoryBytes: GiB, diskBytes: 10 * GiB, ...grant },
    createdAt: now, deadline: now + 3_600_000, hostKeys: [], keys: {},
    // The engine's container names carry the old labels; the page must not show them as roles.
    workload: { container: `c-${id}`, name: `ssh-${over.role === 'test' ? 'test-' : ''}container-${id}`, image: 'base', ownImage: false },
    ...over,
  };
}

/** The document as /status.json serves it, over a ledger and two hosts built by hand. */
async function servedDocument(dir: string, history: HistoryPoint[], uptimeSeconds: number): Promise<StatusDocument> {
  const ledger = createLedger(dir);
  const facts: HostFacts = { cpuCount: 8, memoryBytes: 17 * GiB, diskBytes: 100 * GiB, diskFreeBytes: 90 * GiB, gpuCount: 2, storage: { enforced: true } };
  const hosts = [
    host('gpu-1', '4444-4449', facts, { slots: [{ sshPort: 4448, renterPorts: {} }, { sshPort: 4447, renterPorts: {} }], ready: 1 }),
    host('gpu-2', '5000-5001', null, { slots: [], ready: 0 }),
  ];
  const views: HostViews = { all: () => hosts, get: (name) => hosts.find((v) => v.host.name === name), refresh: async () => undefined };
  ledger.reserve(rental('aaaaaaaa', {}, { cpuset: '0-1', gpus: [0], memoryBytes: 4 * GiB, diskBytes: 20 * GiB }));
  ledger.reserve(rental('bbbbbbbb', { role: 'test' }, { cpuset: '2', sshPort: 4445, memoryBytes: GiB, diskBytes: 5 * GiB }));
  // Being ended: it holds its port until its container is gone, but no longer any room.
  ledger.reserve(rental('cccccccc', { phase: 'ending' }, { cpuset: '3', sshPort: 4446, memoryBytes: 2 * GiB, diskBytes: 10 * GiB }));
  // Kept from a run with another pool: outside today's.
  ledger.reserve(rental('dddddddd', { host: 'gpu-2' }, { sshPort: 4444, diskBytes: 3 * GiB }));
  const state = () => rentalsState(views, ledger, GiB);
  const collect = statusCollector({
    hotkey: '5GHtrkSnCChzSQoqcTykrenbhqz3wKess5sBxjutKTeWbFAA', version: '0.1.0', startedAt: Date.now() - uptimeSeconds * 1000,
    dockerReachable: async () => true,
    manager: () => state(),
    rentals: rentalViews(views, ledger, 200),
    rentalsOnManyEngines: true,
    hosts: () => state().hosts,
    history: () => ({ points: async () => history, intervalMs: 60_000 }),
    challenge: () => ({ solver: 'built-in', hashcat: { state: 'off' } }),
    challengeQueued: () => 0,
  });
  let body = '';
  const res = { writeHead: () => res, end: (text: string) => { body = text; } } as unknown as ServerResponse;
  statusRoutes(collect, (err) => { throw err; })['/status.json']!({} as never, res);
  for (let i = 0; i < 100 && !body; i++) await new Promise((r) => setTimeout(r, 10));
  return JSON.parse(body) as StatusDocument;
}

/** A table's rows as cell texts (tags stripped), by its column headings. */
function table(html: string, id: string): Record<string, string>[] {
  const text = (s: string) => s.replace(/<[^>]+>/g, '').replace(/&#39;/g, "'").trim();
  const body = new RegExp(`<table id="${id}"><thead><tr>(.*?)</tr></thead><tbody>(.*?)</tbody></table>`, 's').exec(html);
  assert.ok(body, `a table ${id}`);
  const names = [...body![1]!.matchAll(/<th>(.*?)<\/th>/g)].map((m) => text(m[1]!));
  return [...body![2]!.matchAll(/<tr[^>]*>(.*?)<\/tr>/gs)].map((row) => {
    const cells = [...row[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((m) => text(m[1]!));
    assert.is(cells.length, names.length, `one cell per column of ${id}: ${names.join(', ')}`);
    return Object.fromEntries(names.map((n, i) => [n, cells[i]!]));
  });
}

const ago = (nowMs: number, seconds: number) => new Date(nowMs - seconds * 1000).toISOString();

test('/status.json: each rental\'s role and disk, each host\'s free capacity counted as placement counts it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'status-capacity-'));
  try {
    const doc = await servedDocument(dir, [], 24);
    assert.equal(doc.rentals.map((r) => [r.host, r.port, r.role, r.state, r.diskBytes]), [
      ['gpu-1', 4444, 'rental', 'running', 20 * GiB],
      ['gpu-1', 4445, 'test', 'running', 5 * GiB],
      ['gpu-1', 4446, 'rental', 'ending', 10 * GiB],
      ['gpu-2', 4444, 'rental', 'unreachable', 3 * GiB],
    ]);
    const [one, two] = doc.hosts!;
    assert.equal(one!.capacity, {
      cores: { free: 5, total: 8 },
      gpus: { free: 1, total: 2 },
      memory: { freeBytes: 11 * GiB, committedBytes: 5 * GiB, totalBytes: 16 * GiB },
      disk: { freeBytes: 75 * GiB, committedBytes: 25 * GiB, totalBytes: 100 * GiB, unusedBytes: 90 * GiB },
      // 4444-4446 held by rentals (the one ending too), 4447-4448 by warm containers.
      sshPorts: { free: 1, total: 6 },
      standby: { ready: 1, starting: 1, ports: [4447, 4448] },
    });
    assert.equal(one!.outsidePool, []);
    assert.equal([two!.up, two!.capacity], [false, {
      cores: null, gpus: null, memory: null, disk: null, sshPorts: { free: 2, total: 2 }, standby: { ready: 0, starting: 0, ports: [] },
    }], 'a host that never said what it has: no numbers made up');
    assert.equal(two!.outsidePool, [4444]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the page: roles rental and test (never a container label), a disk column, the capacity of each host', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'status-capacity-'));
  try {
    const html = renderStatusPage(await servedDocument(dir, [], 24));
    assert.not.ok(html.includes('ssh-container'), 'no container label as a role');
    assert.not.ok(html.includes('ssh-test-container'));
    const rentals = table(html, 'rentals');
    assert.equal(rentals.map((r) => [r.host, r.role, r.disk, r['SSH port']]), [
      ['gpu-1', 'rental', '20 GiB', '4444'],
      ['gpu-1', 'test', '5 GiB', '4445'],
      ['gpu-1', 'rental', '10 GiB', '4446'],
      ['gpu-2', 'rental', '3 GiB', "4444 (outside today's pool)"],
    ]);
    const [one, two] = table(html, 'hosts');
    assert.equal(one, {
      host: 'gpu-1', engine: 'running', 'base image': 'ready', rentals: '3',
      'cores free': '5 of 8', 'GPUs free': '1 of 2',
      'memory free': '11 GiB of 16 GiB (5 GiB committed)',
      'disk free': '75 GiB of 100 GiB (25 GiB granted, 90 GiB unwritten)',
      'SSH ports free': '1 of 6', standby: '1 ready, 1 starting (ports 4447, 4448)', 'outside the pool': '—',
    });
    assert.equal(two, {
      host: 'gpu-2', engine: 'unreachable connect ECONNREFUSED', 'base image': 'ready', rentals: '1',
      'cores free': '—', 'GPUs free': '—', 'memory free': '—', 'disk free': 'unknown',
      'SSH ports free': '2 of 2', standby: 'none', 'outside the pool': 'port 4444',
    });
    const text = formatStatus(await servedDocument(dir, [], 24));
    assert.match(text, /^host {8}gpu-1  up  base image ready  3 rentals  cores 5 of 8 free, GPUs 1 of 2 free, memory 11 GiB of 16 GiB free, disk 75 GiB of 100 GiB free, SSH ports 1 of 6 free, standby 1 \(\+1 starting\)$/m);
    assert.match(text, /^ {2}gpu-1  test  running  .*  1 GiB  5 GiB disk  GPUs 0  port 4445 /m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a miner up 24 s: the graph starts 24 s ago, one bar from the left edge, no empty hour before it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'status-capacity-'));
  try {
    const now = Date.now();
    const html = renderStatusPage(await servedDocument(dir, [{ at: ago(now, 23), requests: 4, meanMs: 2 }], 24));
    assert.match(html, /<text [^>]*id="graph-start">2[34] s ago<\/text>/);
    assert.match(html, /<h2>Requests, last 2[34] s<\/h2>/);
    assert.not.match(html, /min ago/);
    assert.equal([...html.matchAll(/<rect x="([\d.]+)"[^>]* width="([\d.]+)"/g)].map((m) => [m[1], m[2]]), [['29.0', '662.0']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the axis label says how long ago the first bucket began, never more than the uptime', () => {
  const now = Date.parse('2026-01-01T12:00:00.000Z');
  const bucket = (secondsAgo: number): HistoryPoint => ({ at: ago(now, secondsAgo), requests: 1, meanMs: 1 });
  const label = (svg: string) => /id="graph-start">([^<]*)</.exec(svg)?.[1];
  const rects = (svg: string) => (svg.match(/<rect /g) ?? []).length;
  const three = requestGraph([bucket(180), bucket(120), bucket(60)], 60, { nowMs: now, uptimeSeconds: 200 });
  assert.is(label(three), '3 min ago');
  assert.is(rects(three), 3);
  assert.match(three, /<rect x="29\.0"/, 'the first bucket at the left edge');
  // An hour of buckets on a miner up for a day: the axis spans the hour.
  const hour = Array.from({ length: 61 }, (_, i) => bucket(3630 - i * 60));
  const long = requestGraph(hour, 60, { nowMs: now, uptimeSeconds: 86_400 });
  assert.is(label(long), '1 h ago');
  assert.is(rects(long), 61);
  // Buckets older than the miner (never recorded in practice) are not drawn, nor counted in the label.
  const young = requestGraph(hour, 60, { nowMs: now, uptimeSeconds: 24 });
  assert.is(label(young), '24 s ago');
  assert.is(rects(young), 1);
  assert.is(label(requestGraph([], 60, { nowMs: now, uptimeSeconds: 5 })), '0 s ago');
});

test.run();
