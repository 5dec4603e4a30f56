// Bad input to the axon: each gets the code or close code PROTOCOL.md gives, and the next
// well-formed request on a fresh connection still works.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CloseCode, encode, generateHotkey, Status } from '../protocol/index.js';
import type { SynapsePlugin } from '../src/axon/synapse.js';
import { echoPlugin, freshRequestWorks, RawClient, replySignatureValid, signedEnvelope, startTestAxon, type TestAxon } from './helpers/axon.js';

const IDLE_MS = 400;
const bad = suite('axon bad input');
let t: TestAxon;
bad.before(async () => {
  t = await startTestAxon({ plugins: [echoPlugin('Specs')], limits: { idleTimeoutMs: IDLE_MS } });
});
bad.after(async () => {
  await t.close();
});

async function withClient<T>(fn: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect(t.url);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

const envelope = (over: Record<string, unknown> = {}) => ({ ...signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, id: 7 }), ...over });

async function expectClose(send: (c: RawClient) => void, code: number): Promise<void> {
  await withClient(async (c) => {
    send(c);
    assert.is(await c.nextClose(), code);
  });
  assert.is(await freshRequestWorks(t), 200, 'next request on a fresh connection works');
}

async function expectReply(send: (c: RawClient) => void, code: number, message?: RegExp): Promise<void> {
  await withClient(async (c) => {
    send(c);
    const reply = await c.nextReply();
    assert.is(reply.status.code, code, reply.status.message);
    if (message) assert.match(reply.status.message, message);
    if (code !== 200) assert.is(reply.body, undefined, 'an error reply has no body');
    assert.is(reply.axon.hotkey, t.hotkey.ss58Address);
  });
  assert.is(await freshRequestWorks(t), 200, 'next request on a fresh connection works');
}

bad('garbage bytes close the connection with 1007', () => expectClose((c) => c.send(Buffer.from([0xc1, 0xff, 0x13, 0x37])), CloseCode.INVALID_PAYLOAD));

bad('a text frame without a readable id closes with 1003', () => expectClose((c) => c.send('hello', false), CloseCode.UNSUPPORTED_DATA));

bad('a text frame with a readable id gets a 400 reply to that id', async () => {
  await withClient(async (c) => {
    c.send(JSON.stringify({ id: 99, name: 'Specs' }), false);
    const reply = await c.nextReply();
    assert.is(reply.status.code, Status.BAD_REQUEST);
    assert.is(reply.id, 99);
    assert.match(reply.status.message, /binary/);
  });
  assert.is(await freshRequestWorks(t), 200);
});

bad('a frame over 1 MiB closes with 1009', () => expectClose((c) => c.send(Buffer.alloc(1024 * 1024 + 1, 0x90)), CloseCode.MESSAGE_TOO_BIG));

bad('a truncated MessagePack map closes with 1007', () => {
  const frame = encode(envelope());
  return expectClose((c) => c.send(frame.subarray(0, frame.length - 20)), CloseCode.INVALID_PAYLOAD);
});

bad('a MessagePack value that is not a map closes with 1007', () => expectClose((c) => c.send(encode([1, 2, 3])), CloseCode.INVALID_PAYLOAD));

// Each required field missing, then of the wrong type: 400 naming the field, or a close
// with 1007 when it is the id itself that cannot be read.
const FIELDS: { path: string[]; wrong: unknown }[] = [
  { path: ['v'], wrong: '1' },
  { path: ['id'], wrong: 'seven' },
  { path: ['name'], wrong: 5 },
  { path: ['timeout'], wrong: '5' },
  { path: ['body'], wrong: 'not bytes' },
  { path: ['dendrite'], wrong: 'me' },
  { path: ['dendrite', 'hotkey'], wrong: 12 },
  { path: ['dendrite', 'nonce'], wrong: 1.5 },
  { path: ['dendrite', 'uuid'], wrong: 3 },
  { path: ['dendrite', 'signature'], wrong: Buffer.alloc(63) },
  { path: ['axon'], wrong: [] },
  { path: ['axon', 'hotkey'], wrong: false },
];

function mutate(env: Record<string, unknown>, path: string[], value: unknown | typeof REMOVE): Record<string, unknown> {
  const copy = structuredClone({ ...env, body: undefined, dendrite: { ...(env.dendrite as object), signature: undefined } }) as Record<string, unknown>;
  copy.body = env.body;
  (copy.dendrite as Record<string, unknown>).signature = (env.dendrite as Record<string, unknown>).signature;
  let target = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  if (value === REMOVE) delete target[path.at(-1)!];
  else target[path.at(-1)!] = value;
  return copy;
}
const REMOVE = Symbol('remove');

for (const { path, wrong } of FIELDS) {
  for (const [how, value] of [['missing', REMOVE], ['of the wrong type', wrong]] as const) {
    const field = path.join('.');
    bad(`envelope field ${field} ${how}`, async () => {
      const env = mutate(envelope(), path, value);
      if (field === 'id') return expectClose((c) => c.sendEnvelope(env), CloseCode.INVALID_PAYLOAD);
      await withClient(async (c) => {
        c.sendEnvelope(env);
        const reply = await c.nextReply();
        assert.is(reply.status.code, Status.BAD_REQUEST, reply.status.message);
        assert.is(reply.id, 7);
        assert.ok(reply.status.message.includes(field), `"${reply.status.message}" names ${field}`);
      });
      assert.is(await freshRequestWorks(t), 200);
    });
  }
}

bad('a 400 reply is signed over the readable dendrite hotkey and uuid', async () => {
  const client = generateHotkey();
  const env = { ...signedEnvelope({ hotkey: client, axonHotkey: t.hotkey.ss58Address, uuid: 'u-400', id: 3 }), timeout: -1 };
  await withClient(async (c) => {
    c.sendEnvelope(env);
    const reply = await c.nextReply();
    assert.is(reply.status.code, Status.BAD_REQUEST);
    assert.ok(replySignatureValid(reply, t.hotkey.ss58Address, client.ss58Address, 'u-400'));
  });
});

bad('an unknown synapse name gets 404', () => expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, name: 'Mine' })), Status.NOT_FOUND, /Mine/));

bad('a synapse this axon does not serve gets 404', () => expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, name: 'Allocate' })), Status.NOT_FOUND));

bad('an unsupported protocol version gets 400', () => expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, v: 2 })), Status.BAD_REQUEST, /version/));

bad('a request for another axon hotkey gets 401', () => {
  const other = generateHotkey().ss58Address;
  return expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: other })), Status.UNAUTHORIZED, /another axon/);
});

bad('a flipped signature bit gets 401', () => {
  const env = envelope();
  const signature = Buffer.from((env.dendrite as { signature: Uint8Array }).signature);
  signature[10] ^= 0x01;
  return expectReply((c) => c.sendEnvelope({ ...env, dendrite: { ...(env.dendrite as object), signature } }), Status.UNAUTHORIZED, /signature/);
});

bad('a body that does not match its signature gets 401', () => expectReply((c) => c.sendEnvelope({ ...envelope(), body: encode({ say: 'tampered' }) }), Status.UNAUTHORIZED));

bad('a dendrite hotkey that is not SS58 gets 401', () => {
  const env = envelope();
  return expectReply((c) => c.sendEnvelope({ ...env, dendrite: { ...(env.dendrite as object), hotkey: '5NotAnAddress' } }), Status.UNAUTHORIZED);
});

bad('a replayed nonce gets 401, the original 200', async () => {
  const env = envelope();
  await withClient(async (c) => {
    c.sendEnvelope(env);
    assert.is((await c.nextReply()).status.code, 200);
    c.sendEnvelope(env);
    const replay = await c.nextReply();
    assert.is(replay.status.code, Status.UNAUTHORIZED);
    assert.match(replay.status.message, /already used/);
  });
  // Replayed on another connection too.
  await expectReply((c) => c.sendEnvelope(env), Status.UNAUTHORIZED, /already used/);
});

bad('a nonce 10 s old gets 401', () =>
  expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, timeout: 5, nonce: (Date.now() - 10_000) * 1000 })), Status.UNAUTHORIZED, /stale/));

bad('a nonce 10 s in the future gets 401', () =>
  expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, nonce: (Date.now() + 10_000) * 1000 })), Status.UNAUTHORIZED, /future/));

bad('a nonce 3 s old with a 5 s timeout is accepted (inside the window)', () =>
  expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, timeout: 5, nonce: (Date.now() - 3_000) * 1000 })), 200));

bad('a body that is not MessagePack gets 422', () =>
  expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, body: Buffer.from([0xc1]) })), Status.UNPROCESSABLE, /body/));

bad('a body of truncated MessagePack gets 422', () =>
  expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, body: Buffer.from([0x82, 0xa3]) })), Status.UNPROCESSABLE, /not MessagePack/));

bad('a body field of the wrong type gets 422 with its path', () =>
  expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, body: { say: 5 } })), Status.UNPROCESSABLE, /^say: /));

bad('a body that is not a map gets 422', () =>
  expectReply((c) => c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: t.hotkey.ss58Address, body: encode('text') })), Status.UNPROCESSABLE, /map/));

bad('a connection that opens and never sends is closed with 1008', async () => {
  const c = await RawClient.connect(t.url);
  const opened = Date.now();
  try {
    assert.is(await c.nextClose(IDLE_MS + 3000), CloseCode.POLICY_VIOLATION);
    assert.ok(Date.now() - opened >= IDLE_MS - 50, 'not before the idle timeout');
  } finally {
    c.close();
  }
  assert.is(await freshRequestWorks(t), 200);
});

bad('after all of it nothing is left behind: no open connection, queued or running request', async () => {
  const gauge = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await (await fetch(`http://127.0.0.1:${t.port}/metrics`)).text())![1]);
  const end = Date.now() + 5000;
  while ((await gauge('axon_open_connections')) !== 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.is(await gauge('axon_open_connections'), 0);
  assert.is(await gauge('axon_queue_depth'), 0);
  assert.is(await gauge('axon_handlers_running'), 0);
});

bad.run();

// A thousand requests in flight on one connection: the first 256 (the cap) are served,
// every other one is answered 429 at once, each id exactly once; the connection stays usable.
const flight = suite('axon in-flight cap');
let gate: () => void = () => {};
let opened = new Promise<void>((r) => (gate = r));
let f: TestAxon;
flight.before(async () => {
  const held: SynapsePlugin = echoPlugin('Specs', {
    concurrency: 4,
    async forward(req: { say?: string }) {
      await opened;
      return { echo: req.say ?? null };
    },
  });
  f = await startTestAxon({ plugins: [held], limits: { rateBurst: 10_000, ratePerSecond: 10_000, maxInFlightPerConnection: 256 } });
});
flight.after(async () => {
  gate();
  await f.close();
});

flight('1000 requests in flight: 256 served, 744 refused with 429, none lost', async () => {
  const client = generateHotkey();
  const c = await RawClient.connect(f.url);
  try {
    for (let id = 1; id <= 1000; id++) c.sendEnvelope(signedEnvelope({ hotkey: client, axonHotkey: f.hotkey.ss58Address, id, timeout: 30 }));
    const codes = new Map<number, number>();
    for (let i = 0; i < 744; i++) {
      const reply = await c.nextReply();
      codes.set(reply.id, reply.status.code);
    }
    assert.ok([...codes.values()].every((code) => code === Status.TOO_MANY_REQUESTS), 'the first replies are all 429');
    gate();
    for (let i = 0; i < 256; i++) {
      const reply = await c.nextReply();
      assert.not.ok(codes.has(reply.id), `id ${reply.id} answered once`);
      codes.set(reply.id, reply.status.code);
    }
    assert.is(codes.size, 1000);
    assert.is([...codes.values()].filter((code) => code === 200).length, 256);
    for (let id = 1; id <= 256; id++) assert.is(codes.get(id), 200, `id ${id} was admitted`);
    // Same connection still works once the load is gone.
    c.sendEnvelope(signedEnvelope({ hotkey: client, axonHotkey: f.hotkey.ss58Address, id: 5000 }));
    assert.is((await c.nextReply()).status.code, 200);
  } finally {
    c.close();
  }
  assert.is(await freshRequestWorks(f), 200);
  const metrics = await (await fetch(`http://127.0.0.1:${f.port}/metrics`)).text();
  assert.match(metrics, /axon_queue_depth 0/);
  assert.match(metrics, /axon_handlers_running 0/);
});

flight.run();

// Over the connection cap, a new connection displaces the oldest one still on probation;
// only when every connection has earned its place is the new one closed with 1013.
const conns = suite('axon connection cap');
let k: TestAxon;
conns.before(async () => {
  k = await startTestAxon({ plugins: [echoPlugin('Specs')], limits: { maxConnections: 2 } });
});
conns.after(async () => {
  await k.close();
});

conns('over a cap of two: the oldest connection on probation is displaced, and with none on probation one more is closed with 1013', async () => {
  const a = await RawClient.connect(k.url);
  const b = await RawClient.connect(k.url);
  const c = await RawClient.connect(k.url);
  let d: RawClient | undefined;
  try {
    assert.is(await a.nextClose(), CloseCode.TRY_AGAIN_LATER, 'the oldest on probation is displaced');
    for (const earner of [b, c]) {
      earner.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: k.hotkey.ss58Address }));
      assert.is((await earner.nextReply()).status.code, 200);
    }
    d = await RawClient.connect(k.url);
    assert.is(await d.nextClose(), CloseCode.TRY_AGAIN_LATER, 'nobody left to displace');
    b.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: k.hotkey.ss58Address, id: 2 }));
    assert.is((await b.nextReply()).status.code, 200, 'those who earned their place keep it');
  } finally {
    for (const client of [a, b, c, d]) client?.close();
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.is(await freshRequestWorks(k), 200);
});

conns.run();
