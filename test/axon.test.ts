// The axon end to end over real sockets: a signed round trip, /health and /metrics.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, generateHotkey, Status } from '../protocol/index.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { echoPlugin, RawClient, replySignatureValid, signedEnvelope, startTestAxon, type TestAxon } from './helpers/axon.js';

let t: TestAxon;
test.before(async () => {
  t = await startTestAxon({ plugins: [echoPlugin('Specs')], health: () => ({ docker: { reachable: true }, allocation: null }) });
});
test.after(async () => {
  await t.close();
});

test('a signed request gets a 200 reply signed by the miner, with the handler result', async () => {
  const client = generateHotkey();
  const raw = await RawClient.connect(t.url);
  try {
    raw.sendEnvelope(signedEnvelope({ hotkey: client, axonHotkey: t.hotkey.ss58Address, id: 42, body: { say: 'hello' }, uuid: 'u-1' }));
    const reply = await raw.nextReply();
    assert.is(reply.status.code, Status.OK);
    assert.is(reply.id, 42);
    assert.is(reply.name, 'Specs');
    assert.is(reply.v, 1);
    assert.ok(replySignatureValid(reply, t.hotkey.ss58Address, client.ss58Address, 'u-1'), 'reply signature verifies');
    assert.not.ok(replySignatureValid(reply, t.hotkey.ss58Address, client.ss58Address, 'u-2'), 'signature binds the uuid');
    assert.equal(decode(reply.body!), { echo: 'hello', hotkey: client.ss58Address, stake: 0 });
    assert.type(reply.process_time, 'number');
  } finally {
    raw.close();
  }
});

test('the dendrite signs, sends and verifies a round trip, learning the axon hotkey from /health', async () => {
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: t.url });
  try {
    const reply = await dendrite.call('Specs', { say: 'hi' });
    assert.is(dendrite.axonHotkey, t.hotkey.ss58Address);
    assert.is(reply.code, 200);
    assert.is(reply.message, 'OK');
    assert.equal((reply.body as { echo: string }).echo, 'hi');
    assert.ok(reply.latencyMs >= 0);
    const unknown = await dendrite.call('Challenge', {});
    assert.is(unknown.code, Status.NOT_FOUND);
    assert.is(unknown.body, undefined);
  } finally {
    await dendrite.close();
  }
});

test('GET /health reports hotkey, version, uptime and the extra fields', async () => {
  const res = await fetch(`http://127.0.0.1:${t.port}/health`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const health = (await res.json()) as Record<string, unknown>;
  assert.is(health.hotkey, t.hotkey.ss58Address);
  assert.type(health.version, 'string');
  assert.type(health.uptime, 'number');
  assert.equal(health.docker, { reachable: true });
  assert.is(health.allocation, null);
});

test('GET /metrics counts requests by synapse and code and shows latency, connections, queue depth', async () => {
  const before = await (await fetch(`http://127.0.0.1:${t.port}/metrics`)).text();
  const count = (text: string) => Number(/axon_requests_total\{synapse="Specs",code="200"\} (\d+)/.exec(text)?.[1] ?? 0);
  const raw = await RawClient.connect(t.url);
  raw.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address }));
  assert.is((await raw.nextReply()).status.code, 200);
  const res = await fetch(`http://127.0.0.1:${t.port}/metrics`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  raw.close();
  assert.is(count(text), count(before) + 1);
  assert.match(text, /axon_request_duration_seconds_bucket\{le="[^"]+",synapse="Specs"\} \d+/);
  assert.match(text, /axon_open_connections [1-9]/);
  assert.match(text, /axon_queue_depth 0/);
});

test('other HTTP paths are 404, and a WebSocket upgrade elsewhere than / is refused', async () => {
  assert.is((await fetch(`http://127.0.0.1:${t.port}/nope`)).status, 404);
  const refused = await RawClient.connect(`${t.url}/other`).then(
    (c) => (c.close(), false),
    () => true,
  );
  assert.ok(refused, 'upgrade on another path fails');
});

test.run();
