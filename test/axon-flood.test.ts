// The floods of issue "the axon stays reachable for allowed validators while it is flooded",
// each on loopback for a few seconds against an axon in its own process with an allow-list of
// two validators (stake 1000, and stake 10 whose key the attacker holds): during each, every
// probe of the allowed validator (a Specs request on a fresh connection) succeeds within its
// timeout, the axon's RSS stays bounded, and /metrics shows how the flood was refused. Half-open
// upgrade requests, which were already harmless, stay so.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Socket } from 'node:net';
import { generateHotkey, hotkeyFromSeed } from '../protocol/index.js';
import { newSeedHex, probe, sourceAddresses, startFlood, startFloodAxon, type FloodAxon, type FloodSpec, type FloodTally, type ProbeResult } from './helpers/axon-flood.js';

// Each flood lasts half a second plus the probes: about 3 s.
const PROBES = 8;
const PROBE_GAP_MS = 250;
const PROBE_TIMEOUT_MS = 5000;
/** RSS growth allowed over a flood: the axon's tables are bounded, so it levels off far below this. */
const RSS_GROWTH_LIMIT = 128 * 1024 * 1024;

const validator = generateHotkey();
const attackerSeed = newSeedHex();
const attacker = hotkeyFromSeed(Buffer.from(attackerSeed, 'hex'));

const floods = suite('axon floods');
let axon: FloodAxon;
let baselineRss = 0;
floods.before(async () => {
  axon = await startFloodAxon({ seedHex: newSeedHex(), allow: [[validator.ss58Address, 1000], [attacker.ss58Address, 10]] });
  const warm = await probe(axon.url, axon.hotkey, validator, 3, 0, PROBE_TIMEOUT_MS);
  assert.ok(warm.every((r) => r.ok), 'the validator is served before any flood');
  baselineRss = (await axon.stats()).rss;
});
floods.after(async () => {
  await axon.stop();
});

/** Runs `spec` while the validator probes; returns the probes and the attacker's tally. */
async function during(spec: Omit<FloodSpec, 'url' | 'axonHotkey'>) {
  const flood = await startFlood({ ...spec, url: axon.url, axonHotkey: axon.hotkey });
  let results: ProbeResult[] = [];
  let tally: FloodTally;
  try {
    await new Promise((r) => setTimeout(r, 500)); // let the flood reach its full rate first
    results = await probe(axon.url, axon.hotkey, validator, PROBES, PROBE_GAP_MS, PROBE_TIMEOUT_MS);
  } finally {
    tally = await flood.stop();
  }
  const stats = await axon.stats();
  const failed = results.filter((r) => !r.ok);
  assert.is(failed.length, 0, `failed probes: ${JSON.stringify(failed)}`);
  assert.ok(stats.rss - baselineRss < RSS_GROWTH_LIMIT, `RSS grew by ${((stats.rss - baselineRss) / 1e6).toFixed(0)} MB`);
  return { results, tally, metrics: await axon.metrics() };
}

const counter = (metrics: string, name: string): number => {
  const match = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(metrics);
  return match ? Number(match[1]) : 0;
};

floods('300 stranger connections (one signed request each every 2 s) do not lock the validator out', async () => {
  const { tally, metrics } = await during({ kind: 'strangers', connections: 300, intervalMs: 2000, sources: sourceAddresses(30) });
  assert.ok((tally.replies['403'] ?? 0) > 100, `strangers were refused with 403 (${JSON.stringify(tally.replies)})`);
  assert.ok(counter(metrics, 'axon_displaced_connections_total') > 0, 'strangers on probation were displaced');
  assert.ok(counter(metrics, 'axon_refusals_total{reason="not_allowed"}') > 100);
  assert.ok(counter(metrics, 'axon_probationary_connections') <= 256 - 64, 'strangers never hold the room kept for validators');
});

floods("one request of the low-stake validator replayed at line rate on 8 connections does not delay the validator", async () => {
  const { tally, metrics } = await during({ kind: 'replay', connections: 8, attackerSeedHex: attackerSeed });
  assert.ok((tally.replies['401'] ?? 0) > 100, `replays were refused with 401 (${JSON.stringify(tally.replies)})`);
  assert.ok(counter(metrics, 'axon_refusals_total{reason="replay"}') > 100);
  assert.ok(counter(metrics, 'axon_connections_refused_total{reason="refused_requests"}') > 0, 'replaying connections were closed');
});

floods('fresh signed requests of the low-stake validator at line rate on 8 connections do not take the validator\'s answers', async () => {
  const { tally, metrics } = await during({ kind: 'fresh', connections: 8, attackerSeedHex: attackerSeed });
  assert.ok((tally.replies['429'] ?? 0) > 100, `the flood was rate limited (${JSON.stringify(tally.replies)})`);
  assert.ok(counter(metrics, 'axon_refusals_total{reason="rate_limited"}') > 100);
});

floods('1000 half-open upgrade requests (headers never finished) do not disturb the validator', async () => {
  const { port } = axon;
  const sockets: Socket[] = [];
  try {
    const sources = sourceAddresses(10);
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        new Promise<void>((resolve) => {
          const socket = connect({ host: '127.0.0.1', port, localAddress: sources[i % sources.length] }, () => {
            socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);
            resolve();
          });
          socket.on('error', () => resolve());
          sockets.push(socket);
        }),
      ),
    );
    const results = await probe(axon.url, axon.hotkey, validator, PROBES, 50, PROBE_TIMEOUT_MS);
    assert.is(results.filter((r) => !r.ok).length, 0, JSON.stringify(results.filter((r) => !r.ok)));
  } finally {
    for (const socket of sockets) socket.destroy();
  }
  const stats = await axon.stats();
  assert.ok(stats.rss - baselineRss < RSS_GROWTH_LIMIT, `RSS grew by ${((stats.rss - baselineRss) / 1e6).toFixed(0)} MB`);
});

floods.run();
