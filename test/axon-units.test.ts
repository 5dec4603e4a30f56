// Pure parts of the axon: the validators file, replay memory, the priority queue, the
// envelope fast check (never looser than protocol's schema), the bounded map.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decode, encode, generateHotkey, requestEnvelopeSchema } from '../protocol/index.js';
import { decideAccess, parseValidatorsFile } from '../src/axon/access.js';
import { AxonRequestContext } from '../src/axon/context.js';
import { isRequestEnvelope } from '../protocol/index.js';
import { silentLogger } from '../src/log.js';
import { encodeResponse } from '../src/axon/replies.js';
import { resolveLimits, DEFAULT_LIMITS } from '../src/axon/limits.js';
import { BoundedMap } from '../src/axon/lru.js';
import { PriorityQueue } from '../src/axon/queue.js';
import { RateLimiter } from '../src/axon/rate.js';
import { ReplayGuard } from '../src/axon/replay.js';
import { signedEnvelope } from './helpers/axon.js';

const [k1, k2, k3] = [generateHotkey(), generateHotkey(), generateHotkey()].map((k) => k.ss58Address) as [string, string, string];

test('validators file: stakes, denials, comments and blank lines', () => {
  const { allow, deny } = parseValidatorsFile(`# validators\n\n${k1} 1500.5\n${k2}   # no stake\n!${k3}\n`);
  assert.equal([...allow], [[k1, 1500.5], [k2, 0]]);
  assert.equal([...deny], [k3]);
});

test('validators file: each bad line fails with its line number', () => {
  const cases: [string, RegExp][] = [
    [`${k1}\nnot-an-address`, /^line 2: .*not a hotkey address/],
    [`${k1} -3`, /^line 1: stake "-3"/],
    [`${k1} lots`, /^line 1: stake "lots"/],
    [`${k1} 1 2`, /^line 1: expected/],
    [`!${k1} 5`, /^line 1: a denied hotkey takes no stake/],
    [`${k1}\n\n${k1}`, /^line 3: .*listed twice/],
    [`${k1.slice(0, -1)}x`, /^line 1: .*not a hotkey address/],
  ];
  for (const [text, why] of cases) assert.throws(() => parseValidatorsFile(text), why, text);
});

test('access decision: deny beats allow, allow-list unless allowAny, minimum stake', () => {
  const policy = { allowAny: false, allow: new Map([[k1, 10], [k3, 50]]), deny: new Set([k3]), minStake: 5 };
  assert.equal(decideAccess(policy, k1), { ok: true, stake: 10 });
  assert.is(decideAccess(policy, k2).ok, false);
  assert.is(decideAccess(policy, k3).ok, false);
  assert.is(decideAccess({ ...policy, allowAny: true, minStake: 0 }, k2).ok, true);
  assert.is(decideAccess({ ...policy, allowAny: true }, k2).ok, false, 'stake 0 is below 5');
});

test('replay guard: strictly increasing nonce per (hotkey, uuid) inside the window', () => {
  const guard = new ReplayGuard(10);
  const now = 1_700_000_000_000;
  const n = now * 1000;
  assert.is(guard.check(k1, 'u', n, 12, now), null);
  guard.accept(k1, 'u', n);
  assert.match(guard.check(k1, 'u', n, 12, now)!, /already used/);
  assert.match(guard.check(k1, 'u', n - 1, 12, now)!, /already used/);
  assert.is(guard.check(k1, 'u', n + 1, 12, now), null);
  assert.is(guard.check(k1, 'other-uuid', n, 12, now), null, 'another uuid has its own sequence');
  assert.is(guard.check(k2, 'u', n, 12, now), null, 'another hotkey has its own sequence');
  assert.match(guard.check(k2, 'u', n - 16_001_000, 12, now)!, /stale/, 'older than 4 s + timeout');
  assert.is(guard.check(k2, 'u', n - 15_999_000, 12, now), null);
  assert.match(guard.check(k2, 'u', n + 4_001_000, 12, now)!, /future/);
  assert.is(guard.check(k2, 'u', n + 3_999_000, 12, now), null);
});

test('replay guard: a forgotten pair cannot be replayed (eviction raises the floor)', () => {
  const guard = new ReplayGuard(2);
  const now = 1_700_000_000_000;
  const n = now * 1000;
  guard.accept(k1, 'a', n);
  guard.accept(k2, 'b', n + 10);
  guard.accept(k3, 'c', n + 20); // evicts (k1, a)
  assert.match(guard.check(k1, 'a', n, 12, now)!, /already used/);
  assert.is(guard.check(k1, 'a', n + 1, 12, now), null);
});

test('bounded map keeps the most recently used entries', () => {
  const evicted: string[] = [];
  const map = new BoundedMap<string, number>(2, (key) => evicted.push(key));
  map.set('a', 1);
  map.set('b', 2);
  map.get('a');
  map.set('c', 3);
  assert.equal(evicted, ['b']);
  assert.is(map.size, 2);
  assert.is(map.get('a'), 1);
});

test('rate limiter: burst, then the sustained rate', () => {
  const rate = new RateLimiter(10, 3, 100);
  assert.equal([rate.take(k1, 0), rate.take(k1, 0), rate.take(k1, 0), rate.take(k1, 0)], [true, true, true, false]);
  assert.is(rate.take(k2, 0), true, 'buckets are per hotkey');
  assert.is(rate.take(k1, 50), false, 'half a token after 50 ms at 10/s');
  assert.is(rate.take(k1, 100), true);
});

test('limits: defaults are documented values; bad overrides are refused', () => {
  assert.is(resolveLimits().maxPayload, 1024 * 1024);
  assert.is(resolveLimits({ maxConnections: 3 }).maxConnections, 3);
  assert.is(resolveLimits({}).rateBurst, DEFAULT_LIMITS.rateBurst);
  assert.throws(() => resolveLimits({ maxPayload: 0 }), /maxPayload/);
});

test('priority queue: bound, per-synapse slots, order, cancel', async () => {
  const order: string[] = [];
  const gates: (() => void)[] = [];
  const queue = new PriorityQueue(3, 1, new Map([['Specs', 1], ['Challenge', 1], ['Allocate', 1]] as const));
  const job = (synapse: 'Specs' | 'Challenge' | 'Allocate', tag: string, stake = 0, priority = 0) => ({
    synapse,
    stake,
    priority,
    run: () => {
      order.push(tag);
      return new Promise<void>((r) => gates.push(r));
    },
  });
  assert.ok(queue.submit(job('Specs', 'first')));
  assert.is(queue.active, 1);
  assert.ok(queue.submit(job('Specs', 'low', 1)));
  const cancelled = queue.submit(job('Specs', 'cancelled', 9))!;
  assert.ok(queue.submit(job('Challenge', 'challenge')));
  assert.is(queue.submit(job('Allocate', 'over the bound')), null);
  assert.is(queue.depth, 3);
  assert.ok(cancelled.cancel());
  assert.not.ok(cancelled.cancel(), 'only once');
  assert.ok(queue.submit(job('Allocate', 'allocate')));
  for (let i = 0; i < 4; i++) {
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(order, ['first', 'allocate', 'challenge', 'low']);
  assert.is(queue.depth, 0);
});

test('envelope fast check: accepts a valid envelope and never accepts what the schema refuses', () => {
  const valid = signedEnvelope({ hotkey: generateHotkey(), axonHotkey: k1 });
  assert.ok(isRequestEnvelope(valid));
  assert.ok(requestEnvelopeSchema.safeParse(valid).success);
  const wrongs: unknown[] = [undefined, null, -1, 1.5, 2 ** 53, '1', 'x'.repeat(129), '', [], {}, Buffer.alloc(63), Buffer.alloc(64), 0, Infinity, NaN, true, 10n];
  const paths = [['v'], ['id'], ['name'], ['timeout'], ['body'], ['dendrite'], ['dendrite', 'hotkey'], ['dendrite', 'nonce'], ['dendrite', 'uuid'], ['dendrite', 'signature'], ['axon'], ['axon', 'hotkey']];
  let refused = 0;
  for (const path of paths) {
    for (const wrong of wrongs) {
      const env = { ...valid, dendrite: { ...(valid.dendrite as object) }, axon: { ...(valid.axon as object) } } as Record<string, unknown>;
      let target = env;
      for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
      target[path.at(-1)!] = wrong;
      const schemaOk = requestEnvelopeSchema.safeParse(env).success;
      if (isRequestEnvelope(env)) assert.ok(schemaOk, `fast check accepted ${path.join('.')} = ${String(wrong)} which the schema refuses`);
      if (!schemaOk) refused++;
    }
  }
  assert.ok(refused > 100, 'the table exercises refusals');
  assert.not.ok(isRequestEnvelope(encode(valid)), 'raw bytes are not an envelope');
});

test('request context: the signal reflects an abort made before or after it is first read', () => {
  const early = new AxonRequestContext(k1, 0, 0, 0, silentLogger(), 'Specs', 1);
  early.abort(new Error('deadline passed'));
  assert.ok(early.signal.aborted);
  assert.is((early.signal.reason as Error).message, 'deadline passed');
  const late = new AxonRequestContext(k1, 0, 0, 0, silentLogger(), 'Specs', 2);
  const signal = late.signal;
  assert.not.ok(signal.aborted);
  late.abort(new Error('connection closed'));
  late.abort(new Error('deadline passed'));
  assert.ok(signal.aborted);
  assert.is((signal.reason as Error).message, 'connection closed', 'the first reason counts');
});

test('response encoding is reused only for frozen results', () => {
  const frozen = Object.freeze({ n: 1 });
  assert.is(encodeResponse(frozen), encodeResponse(frozen), 'same bytes object');
  const live = { n: 1 };
  assert.equal(decode(encodeResponse(live)), { n: 1 });
  live.n = 2;
  assert.equal(decode(encodeResponse(live)), { n: 2 }, 'a result that may change is encoded again');
});

test.run();
