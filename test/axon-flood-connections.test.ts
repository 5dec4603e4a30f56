// The flood defences on real sockets, one at a time and small: the per-address cap, a
// connection closed for its refused requests, the per-hotkey share of the queue, and the
// flood summary in the log (once per period, naming the offenders).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { CloseCode, generateHotkey, Status, type Hotkey } from '../protocol/index.js';
import type { AccessPolicy } from '../src/axon/access.js';
import type { SynapsePlugin } from '../src/axon/synapse.js';
import { echoPlugin, RawClient, signedEnvelope, startTestAxon, type TestAxon } from './helpers/axon.js';
import { until } from './helpers/wait.js';

const validator = generateHotkey();
const other = generateHotkey();
const stranger = generateHotkey();
const policy = (): AccessPolicy => ({ allowAny: false, allow: new Map([[validator.ss58Address, 100], [other.ss58Address, 1]]), deny: new Set(), minStake: 0 });

async function metricsOf(t: TestAxon): Promise<string> {
  return (await fetch(`http://127.0.0.1:${t.port}/metrics`)).text();
}

async function earn(c: RawClient, t: TestAxon, id = 1): Promise<void> {
  c.sendEnvelope(signedEnvelope({ hotkey: validator, axonHotkey: t.hotkey.ss58Address, id, uuid: `earn-${Math.random()}` }));
  assert.is((await c.nextReply()).status.code, 200);
}

async function closeEvent(c: RawClient): Promise<{ code: number; reason: string }> {
  const e = await c.next();
  if (e.kind !== 'close') throw new Error(`expected a close, got ${e.reply.status.code}`);
  return e;
}

const conns = suite('axon flood defences on sockets');
const clients: RawClient[] = [];
const connect = async (t: TestAxon, localAddress?: string) => {
  const c = await RawClient.connect(t.url, { localAddress });
  clients.push(c);
  return c;
};
conns.after.each(() => {
  for (const c of clients.splice(0)) c.close();
});

conns('an address at its cap: a new connection displaces its oldest on probation, or is closed with 1013, and other addresses still get in', async () => {
  const t = await startTestAxon({ plugins: [echoPlugin()], access: policy(), limits: { maxConnectionsPerAddress: 2 } });
  try {
    const a = await connect(t, '127.0.0.5');
    await earn(a, t);
    const probation = await connect(t, '127.0.0.5');
    const b = await connect(t, '127.0.0.5');
    assert.equal(await closeEvent(probation), { kind: 'close', code: CloseCode.TRY_AGAIN_LATER, reason: 'displaced by a newer connection' });
    await earn(b, t);
    const c = await connect(t, '127.0.0.5');
    assert.equal(await closeEvent(c), { kind: 'close', code: CloseCode.TRY_AGAIN_LATER, reason: 'too many connections from this address' });
    await earn(await connect(t, '127.0.0.1'), t);
    const metrics = await metricsOf(t);
    assert.match(metrics, /axon_displaced_connections_total 1/);
    assert.match(metrics, /axon_connections_refused_total\{reason="address_full"\} 1/);
  } finally {
    await t.close();
  }
});

conns('an address that has earned nothing gets HTTP 429 before the handshake past its burst; an address whose connection earned its place is not limited', async () => {
  const t = await startTestAxon({ plugins: [echoPlugin()], access: policy(), limits: { newConnectionsPerSecond: 0.001, newConnectionsBurst: 3 } });
  try {
    for (let i = 0; i < 3; i++) await connect(t, '127.0.0.7');
    const fourth = await RawClient.connect(t.url, { localAddress: '127.0.0.7' }).then((c) => { clients.push(c); return 'opened'; }, (err: Error) => err.message);
    assert.match(fourth, /Unexpected server response: 429/);
    // One accepted request and the address may open what it needs (up to its cap).
    await earn(await connect(t, '127.0.0.8'), t);
    for (let i = 0; i < 5; i++) await connect(t, '127.0.0.8');
    await connect(t, '127.0.0.9'); // another address still has its own burst
    const metrics = await metricsOf(t);
    assert.match(metrics, /axon_connections_refused_total\{reason="arrival_rate"\} 1\b/);
    assert.match(metrics, /axon_open_connections 10\b/, 'the refused arrival never became a connection');
  } finally {
    await t.close();
  }
});

conns('a connection whose requests keep being refused is closed with 1008; an accepted request forgives the earlier refusals', async () => {
  const t = await startTestAxon({ plugins: [echoPlugin()], access: policy(), limits: { maxRefusedPerConnection: 3 } });
  try {
    const forged = (hotkey: Hotkey) => {
      const env = signedEnvelope({ hotkey, axonHotkey: t.hotkey.ss58Address });
      (env.dendrite as { signature: Buffer }).signature = Buffer.alloc(64);
      return env;
    };
    const v = await connect(t);
    for (let i = 0; i < 2; i++) {
      v.sendEnvelope(forged(validator));
      assert.is((await v.nextReply()).status.code, Status.UNAUTHORIZED);
    }
    await earn(v, t);
    for (let i = 0; i < 2; i++) {
      v.sendEnvelope(forged(validator));
      assert.is((await v.nextReply()).status.code, Status.UNAUTHORIZED);
    }
    await earn(v, t, 2);
    const s = await connect(t);
    for (let i = 0; i < 3; i++) {
      s.sendEnvelope(signedEnvelope({ hotkey: stranger, axonHotkey: t.hotkey.ss58Address, id: i }));
      assert.is((await s.nextReply()).status.code, Status.FORBIDDEN);
    }
    assert.equal(await closeEvent(s), { kind: 'close', code: CloseCode.POLICY_VIOLATION, reason: 'too many refused requests' });
    const metrics = await metricsOf(t);
    assert.match(metrics, /axon_connections_refused_total\{reason="refused_requests"\} 1/);
    assert.match(metrics, /axon_refusals_total\{reason="not_allowed"\} 3/);
    assert.match(metrics, /axon_refusals_total\{reason="bad_signature"\} 4/);
  } finally {
    await t.close();
  }
});

conns("a hotkey's requests beyond its share get 429 while another hotkey is served", async () => {
  let open: () => void = () => {};
  const gate = new Promise<void>((r) => (open = r));
  const held: SynapsePlugin = echoPlugin('Specs', {
    async forward(req: { say?: string }) {
      if (req.say === 'hold') await gate;
      return { echo: req.say ?? null };
    },
  });
  const t = await startTestAxon({ plugins: [held], access: policy(), limits: { maxPendingPerHotkey: 2 } });
  try {
    const c = await connect(t);
    for (let id = 1; id <= 3; id++) c.sendEnvelope(signedEnvelope({ hotkey: other, axonHotkey: t.hotkey.ss58Address, id, body: { say: 'hold' }, uuid: 'held' }));
    const third = await c.nextReply();
    assert.is(third.id, 3);
    assert.is(third.status.code, Status.TOO_MANY_REQUESTS);
    assert.match(third.status.message, /this hotkey waiting/);
    c.sendEnvelope(signedEnvelope({ hotkey: validator, axonHotkey: t.hotkey.ss58Address, id: 4 }));
    const served = await c.nextReply();
    assert.equal([served.id, served.status.code], [4, 200]);
    open();
    assert.equal([(await c.nextReply()).status.code, (await c.nextReply()).status.code], [200, 200]);
    c.sendEnvelope(signedEnvelope({ hotkey: other, axonHotkey: t.hotkey.ss58Address, id: 5, uuid: 'held' }));
    assert.is((await c.nextReply()).status.code, 200, 'the share is given back as requests are answered');
  } finally {
    open();
    await t.close();
  }
});

conns('a refused flood is logged once per period with the top offending address and hotkey, not once per request', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const t = await startTestAxon({ plugins: [echoPlugin()], access: policy(), limits: { floodReportIntervalMs: 300, floodReportMinRefusals: 5 }, log });
  try {
    const s = await connect(t);
    for (let i = 0; i < 6; i++) {
      s.sendEnvelope(signedEnvelope({ hotkey: stranger, axonHotkey: t.hotkey.ss58Address, id: i }));
      assert.is((await s.nextReply()).status.code, Status.FORBIDDEN);
    }
    const floods = () => lines.map((l) => JSON.parse(l) as { flood?: { refused: Record<string, number>; topAddresses: { address: string }[]; topHotkeys: { hotkey: string }[] } }).filter((l) => l.flood);
    await until('the flood summary', async () => floods().length > 0, 3000, 20);
    await new Promise((r) => setTimeout(r, 700)); // two more periods, without refusals
    const summaries = floods();
    assert.is(summaries.length, 1, 'one line for six refusals, none for quiet periods');
    const { flood } = summaries[0]!;
    assert.equal(flood!.refused, { not_allowed: 6 });
    assert.is(flood!.topAddresses[0]!.address, '127.0.0.1');
    assert.is(flood!.topHotkeys[0]!.hotkey, stranger.ss58Address);
  } finally {
    await t.close();
  }
});

conns.run();
