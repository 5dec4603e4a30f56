// The axon's policies over real sockets: access list and stake, plugin blacklist, queue
// priority, per-synapse concurrency, queue bound, rate limit, handler timeout and failures.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, generateHotkey, Status, type Hotkey, type SynapseName } from '../protocol/index.js';
import type { AccessPolicy } from '../src/axon/access.js';
import { SynapseError, type RequestContext, type SynapsePlugin } from '../src/axon/synapse.js';
import { echoPlugin, openAccess, RawClient, signedEnvelope, startTestAxon, type TestAxon } from './helpers/axon.js';
import { until } from './helpers/wait.js';

async function ask(t: TestAxon, hotkey: Hotkey, opts: { name?: SynapseName; body?: Record<string, unknown>; timeout?: number } = {}) {
  const c = await RawClient.connect(t.url);
  try {
    c.sendEnvelope(signedEnvelope({ hotkey, axonHotkey: t.hotkey.ss58Address, ...opts }));
    return await c.nextReply(10_000);
  } finally {
    c.close();
  }
}

async function queueDepth(t: TestAxon): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${t.port}/metrics`)).text();
  return Number(/axon_queue_depth (\d+)/.exec(text)![1]);
}

// --- access list, stake, blacklist ---
const access = suite('axon access');
const rich = generateHotkey();
const poor = generateHotkey();
const banned = generateHotkey();
const stranger = generateHotkey();
const refusedByPlugin = generateHotkey();
const breaksBlacklist = generateHotkey();
let a: TestAxon;
access.before(async () => {
  const policy: AccessPolicy = {
    allowAny: false,
    allow: new Map([[rich.ss58Address, 10], [poor.ss58Address, 1], [banned.ss58Address, 100], [refusedByPlugin.ss58Address, 50], [breaksBlacklist.ss58Address, 50]]),
    deny: new Set([banned.ss58Address]),
    minStake: 5,
  };
  const plugin = echoPlugin('Specs', {
    blacklist(ctx: RequestContext) {
      if (ctx.hotkey === breaksBlacklist.ss58Address) throw new Error('blacklist bug');
      return ctx.hotkey === refusedByPlugin.ss58Address ? 'not this one' : null;
    },
    verify(req: { say?: string }) {
      if (req.say === 'conflict') throw new SynapseError(409, 'already allocated');
    },
  });
  a = await startTestAxon({ plugins: [plugin], access: policy });
});
access.after(() => a.close());

access('an allowed hotkey with enough stake is served and its stake reaches the handler', async () => {
  const reply = await ask(a, rich);
  assert.is(reply.status.code, 200);
  assert.is((decode(reply.body!) as { stake: number }).stake, 10);
});
access('stake below the minimum gets 403', async () => {
  const reply = await ask(a, poor);
  assert.is(reply.status.code, Status.FORBIDDEN);
  assert.match(reply.status.message, /below the minimum/);
});
access('a denied hotkey gets 403 even when also allowed', async () => {
  const reply = await ask(a, banned);
  assert.is(reply.status.code, Status.FORBIDDEN);
  assert.match(reply.status.message, /denied/);
});
access('a hotkey not on the allow-list gets 403', async () => {
  const reply = await ask(a, stranger);
  assert.is(reply.status.code, Status.FORBIDDEN);
  assert.match(reply.status.message, /not allowed/);
});
access("a plugin's blacklist gets 403 with its reason", async () => {
  const reply = await ask(a, refusedByPlugin);
  assert.is(reply.status.code, Status.FORBIDDEN);
  assert.is(reply.status.message, 'not this one');
});
access('a blacklist that throws gets 500 and the axon keeps serving', async () => {
  const reply = await ask(a, breaksBlacklist);
  assert.is(reply.status.code, Status.INTERNAL);
  assert.is(reply.status.message, 'internal error');
  assert.is((await ask(a, rich)).status.code, 200);
});
access("a plugin's verify() throwing a SynapseError decides the code", async () => {
  const reply = await ask(a, rich, { body: { say: 'conflict' } });
  assert.is(reply.status.code, 409);
  assert.is(reply.status.message, 'already allocated');
});
const withBadSignature = (hotkey: Hotkey, t: TestAxon) => {
  const env = signedEnvelope({ hotkey, axonHotkey: t.hotkey.ss58Address });
  (env.dendrite as { signature: Buffer }).signature = Buffer.alloc(64);
  return env;
};
access('a hotkey that is not let in gets 403 before its signature is checked; an allowed one with a bad signature gets 401', async () => {
  const c = await RawClient.connect(a.url);
  try {
    c.sendEnvelope(withBadSignature(banned, a));
    const denied = await c.nextReply();
    assert.is(denied.status.code, Status.FORBIDDEN);
    assert.match(denied.status.message, /denied/);
    c.sendEnvelope(withBadSignature(stranger, a));
    assert.is((await c.nextReply()).status.code, Status.FORBIDDEN);
    c.sendEnvelope(withBadSignature(rich, a));
    const forged = await c.nextReply();
    assert.is(forged.status.code, Status.UNAUTHORIZED);
    assert.match(forged.status.message, /signature/);
  } finally {
    c.close();
  }
});
access('a replayed request is refused with 401 before its signature is checked, and a forged one reusing its nonce too', async () => {
  const c = await RawClient.connect(a.url);
  try {
    const env = signedEnvelope({ hotkey: rich, axonHotkey: a.hotkey.ss58Address, uuid: 'replayed' });
    c.sendEnvelope(env);
    assert.is((await c.nextReply()).status.code, 200);
    c.sendEnvelope(env);
    const replay = await c.nextReply();
    assert.is(replay.status.code, Status.UNAUTHORIZED);
    assert.match(replay.status.message, /already used/);
    c.sendEnvelope({ ...env, dendrite: { ...(env.dendrite as object), signature: Buffer.alloc(64) } });
    assert.match((await c.nextReply()).status.message, /already used/, 'the nonce check came first');
  } finally {
    c.close();
  }
});
access('with cheapRefusals off, the signature is checked first: a bad signature from a denied hotkey gets 401', async () => {
  const strict = await startTestAxon({ plugins: [echoPlugin('Specs')], access: { allowAny: false, allow: new Map([[rich.ss58Address, 10]]), deny: new Set([banned.ss58Address]), minStake: 0 }, cheapRefusals: false });
  const c = await RawClient.connect(strict.url);
  try {
    c.sendEnvelope(withBadSignature(banned, strict));
    assert.is((await c.nextReply()).status.code, Status.UNAUTHORIZED);
    c.sendEnvelope(signedEnvelope({ hotkey: banned, axonHotkey: strict.hotkey.ss58Address }));
    assert.is((await c.nextReply()).status.code, Status.FORBIDDEN, 'and a good signature then reaches the access check');
  } finally {
    c.close();
    await strict.close();
  }
});
access.run();

const anyone = suite('axon allow-any');
let y: TestAxon;
const denied = generateHotkey();
anyone.before(async () => {
  y = await startTestAxon({ plugins: [echoPlugin()], access: { ...openAccess(), deny: new Set([denied.ss58Address]) } });
});
anyone.after(() => y.close());
anyone('allowAny lets in unknown hotkeys but not denied ones', async () => {
  assert.is((await ask(y, generateHotkey())).status.code, 200);
  assert.is((await ask(y, denied)).status.code, Status.FORBIDDEN);
});
anyone.run();

// --- priority ---
const priority = suite('axon priority');
const started: string[] = [];
let release: () => void = () => {};
let gate = new Promise<void>((r) => (release = r));
let p: TestAxon;
const whale = generateHotkey();
const minnow = generateHotkey();
const favourite = generateHotkey();
priority.before(async () => {
  const recording = (name: SynapseName): SynapsePlugin =>
    echoPlugin(name, {
      concurrency: 4,
      priority: (ctx: RequestContext) => (ctx.hotkey === favourite.ss58Address ? 5 : 0),
      async forward(req: { say?: string }) {
        started.push(req.say ?? '');
        if (req.say === 'blocker') await gate;
        return {};
      },
    });
  p = await startTestAxon({
    plugins: [recording('Specs'), recording('Challenge'), recording('Allocate')],
    access: { allowAny: true, allow: new Map([[whale.ss58Address, 10], [minnow.ss58Address, 1], [favourite.ss58Address, 1]]), deny: new Set(), minStake: 0 },
    limits: { maxRunning: 1 },
  });
});
priority.after(async () => {
  release();
  await p.close();
});
priority('queued requests run by synapse (Allocate > Challenge > Specs), then stake, then plugin priority, then arrival', async () => {
  const c = await RawClient.connect(p.url);
  try {
    const send = (hotkey: Hotkey, name: SynapseName, say: string) =>
      c.sendEnvelope(signedEnvelope({ hotkey, axonHotkey: p.hotkey.ss58Address, name, body: { say }, timeout: 30, uuid: say }));
    send(minnow, 'Specs', 'blocker');
    await until('the blocker to start', async () => started.length === 1, 5000, 10);
    send(minnow, 'Specs', 'specs-minnow-1');
    send(minnow, 'Specs', 'specs-minnow-2');
    send(favourite, 'Specs', 'specs-favourite');
    send(whale, 'Specs', 'specs-whale');
    send(minnow, 'Challenge', 'challenge-minnow');
    send(whale, 'Challenge', 'challenge-whale');
    send(minnow, 'Allocate', 'allocate-minnow');
    await until('seven queued requests', async () => (await queueDepth(p)) === 7, 5000, 10);
    release();
    for (let i = 0; i < 8; i++) assert.is((await c.nextReply()).status.code, 200);
    assert.equal(started, [
      'blocker',
      'allocate-minnow',
      'challenge-whale',
      'challenge-minnow',
      'specs-whale',
      'specs-favourite',
      'specs-minnow-1',
      'specs-minnow-2',
    ]);
  } finally {
    c.close();
  }
});
priority.run();

// --- concurrency, queue bound, rate, timeouts, failures ---
const limits = suite('axon limits and handler outcomes');
let running = 0;
let maxRunning = 0;
let lastSignal: AbortSignal | undefined;
let l: TestAxon;
limits.before(async () => {
  const specs = echoPlugin('Specs', {
    concurrency: 2,
    async forward(req: { say?: string; wait_ms?: number }, ctx: RequestContext) {
      lastSignal = ctx.signal;
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        if (req.say === 'throw') throw new Error('secret detail at /srv/x.ts:12');
        if (req.say === 'unavailable') throw new SynapseError(Status.UNAVAILABLE, 'docker daemon is down');
        if (req.say === 'hang') await new Promise((r) => ctx.signal.addEventListener('abort', r));
        if (req.wait_ms) await new Promise((r) => setTimeout(r, req.wait_ms));
        return { echo: req.say ?? null };
      } finally {
        running--;
      }
    },
  });
  l = await startTestAxon({ plugins: [specs], limits: { maxQueued: 3, ratePerSecond: 0.01, rateBurst: 20 } });
});
limits.after(() => l.close());

limits('a synapse never runs more handlers at once than its concurrency', async () => {
  maxRunning = 0;
  const client = generateHotkey();
  const c = await RawClient.connect(l.url);
  try {
    for (let id = 1; id <= 5; id++) c.sendEnvelope(signedEnvelope({ hotkey: client, axonHotkey: l.hotkey.ss58Address, id, body: { wait_ms: 40 } }));
    for (let i = 0; i < 5; i++) assert.is((await c.nextReply()).status.code, 200);
    assert.is(maxRunning, 2);
  } finally {
    c.close();
  }
});

limits('a request beyond the queue bound gets 503', async () => {
  const client = generateHotkey();
  const c = await RawClient.connect(l.url);
  try {
    // 2 run, 3 wait, the 6th finds the queue full.
    for (let id = 1; id <= 6; id++) c.sendEnvelope(signedEnvelope({ hotkey: client, axonHotkey: l.hotkey.ss58Address, id, body: { wait_ms: 100 } }));
    const first = await c.nextReply();
    assert.is(first.id, 6);
    assert.is(first.status.code, Status.UNAVAILABLE);
    assert.match(first.status.message, /queue is full/);
    for (let i = 0; i < 5; i++) assert.is((await c.nextReply()).status.code, 200);
  } finally {
    c.close();
  }
});

limits('a hotkey over its rate gets 429 while another hotkey is served', async () => {
  const client = generateHotkey();
  const c = await RawClient.connect(l.url);
  try {
    const codes: number[] = [];
    for (let id = 1; id <= 22; id++) {
      c.sendEnvelope(signedEnvelope({ hotkey: client, axonHotkey: l.hotkey.ss58Address, id }));
      codes.push((await c.nextReply()).status.code);
    }
    assert.equal(codes.slice(20), [Status.TOO_MANY_REQUESTS, Status.TOO_MANY_REQUESTS]);
    assert.is(codes.filter((code) => code === 200).length, 20, 'the burst is served');
    assert.is(codes.filter((code) => code === Status.TOO_MANY_REQUESTS).length, 2, 'beyond it, 429');
  } finally {
    c.close();
  }
  assert.is((await ask(l, generateHotkey())).status.code, 200);
});

limits('a handler that outruns the timeout gets 408 at the deadline and sees its signal aborted', async () => {
  const began = Date.now();
  const reply = await ask(l, generateHotkey(), { body: { say: 'hang' }, timeout: 0.3 });
  const took = Date.now() - began;
  assert.is(reply.status.code, Status.TIMEOUT);
  assert.ok(took >= 250 && took < 3000, `answered at the deadline (${took} ms)`);
  assert.ok(lastSignal?.aborted, 'the handler was aborted');
});

limits("a request's timeout is capped by the axon's maxTimeoutSeconds", async () => {
  const capped = await startTestAxon({ plugins: [echoPlugin('Specs', { forward: (_req: unknown, ctx: RequestContext) => new Promise((r) => ctx.signal.addEventListener('abort', r)) })], limits: { maxTimeoutSeconds: 0.3 } });
  try {
    const began = Date.now();
    const reply = await ask(capped, generateHotkey(), { timeout: 600 });
    assert.is(reply.status.code, Status.TIMEOUT);
    assert.ok(Date.now() - began < 3000, 'answered at the cap, not after 600 s');
  } finally {
    await capped.close();
  }
});

limits('a handler that throws gets 500 "internal error" and no detail', async () => {
  const reply = await ask(l, generateHotkey(), { body: { say: 'throw' } });
  assert.is(reply.status.code, Status.INTERNAL);
  assert.is(reply.status.message, 'internal error');
  assert.is(reply.body, undefined);
});

limits('a handler that throws a SynapseError gets its code and message', async () => {
  const reply = await ask(l, generateHotkey(), { body: { say: 'unavailable' } });
  assert.is(reply.status.code, Status.UNAVAILABLE);
  assert.is(reply.status.message, 'docker daemon is down');
});

limits('closing the connection aborts the handler', async () => {
  const c = await RawClient.connect(l.url);
  lastSignal = undefined;
  c.sendEnvelope(signedEnvelope({ hotkey: generateHotkey(), axonHotkey: l.hotkey.ss58Address, body: { say: 'hang' }, timeout: 30 }));
  await until('the handler to start', async () => lastSignal !== undefined, 5000, 10);
  c.close();
  await until('the abort', async () => lastSignal!.aborted, 5000, 10);
});

limits.run();
