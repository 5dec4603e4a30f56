import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChallengeRequest } from '../protocol/index.js';
import { SynapseError, type RequestContext } from '../src/axon/synapse.js';
import { challengePlugin, type ChallengePlugin } from '../src/handlers/challenge.js';
import { silentLogger } from '../src/log.js';
import { CHARSETS, vectors } from './helpers/challenge.js';

const test = suite('Challenge handler and service');
const plugins: ChallengePlugin[] = [];
test.after(async () => {
  await Promise.all(plugins.map((p) => p.close()));
});

function plugin(options: Parameters<typeof challengePlugin>[0] = {}): ChallengePlugin {
  const p = challengePlugin({ solver: 'built-in', threads: 2, ...options });
  plugins.push(p);
  return p;
}

function ctx(overrides: Partial<RequestContext> = {}): RequestContext {
  return {
    hotkey: '5C4hrfjw9DjXZTzV3MwzrrAr9P1MJhSrvWGWqi1eSuyUpnhM', stake: 0, deadline: Date.now() + 60_000,
    signal: new AbortController().signal, receivedAt: Date.now(), log: silentLogger(), ...overrides,
  };
}

// A challenge whose answer is not in the keyspace, so it runs until its deadline.
async function unsolvable(length = 9): Promise<ChallengeRequest> {
  const [v] = await vectors([{ charset: 'abcdefghij', length }]);
  return { ...v!.request, challenge_chars: '0123456789' };
}

test('answers a python-hashed challenge with password, local_execution_time and error null', async () => {
  const p = plugin();
  const [v] = await vectors([{ charset: CHARSETS.shell, length: 4 }]);
  const reply = await p.forward(v!.request, ctx());
  assert.is(reply.output.password, v!.password);
  assert.is(reply.output.error, null);
  assert.ok(reply.output.local_execution_time >= 0 && reply.output.local_execution_time < 30);
});

test('refuses every bad input with an error, code 200 and no work started', async () => {
  const p = plugin();
  const [v] = await vectors([{ charset: CHARSETS.letters, length: 3 }]);
  const good = v!.request;
  let submitted = 0;
  const submit = p.service.submit.bind(p.service);
  p.service.submit = (...args) => { submitted++; return submit(...args); };
  const bad: [string, Partial<ChallengeRequest>, RegExp][] = [
    ['difficulty 0', { challenge_difficulty: 0, challenge_mask: '' }, /challenge_difficulty/],
    ['difficulty -1', { challenge_difficulty: -1 }, /challenge_difficulty/],
    ['difficulty above 12', { challenge_difficulty: 13, challenge_mask: '?1'.repeat(13) }, /challenge_difficulty must be 1–12/],
    ['mode 0', { challenge_mode: '0' }, /challenge_mode/],
    ['mode 610 with spaces', { challenge_mode: ' 610' }, /challenge_mode/],
    ['mask too short', { challenge_mask: '?1?1' }, /challenge_mask/],
    ['mask of ?d', { challenge_mask: '?d?d?d' }, /challenge_mask/],
    ['empty charset', { challenge_chars: '' }, /challenge_chars is empty/],
    ['duplicate charset', { challenge_chars: 'abca' }, /repeated/],
    ['hash without prefix', { challenge_hash: good.challenge_hash.slice(8) }, /challenge_hash/],
    ['hash too short', { challenge_hash: good.challenge_hash.slice(0, -2) }, /challenge_hash/],
    ['hash not hex', { challenge_hash: `$BLAKE2$${'g'.repeat(128)}` }, /challenge_hash/],
  ];
  for (const [label, change, message] of bad) {
    const reply = await p.forward({ ...good, ...change }, ctx());
    assert.is(reply.output.password, null, label);
    assert.is(reply.output.local_execution_time, 0, label);
    assert.match(reply.output.error ?? '', message, label);
  }
  assert.is(submitted, 0, 'no bad challenge reached the service');
  const capped = plugin({ maxDifficulty: 2 });
  const reply = await capped.forward(good, ctx());
  assert.match(reply.output.error ?? '', /1–2/);
});

test('challenges run one at a time in arrival order', async () => {
  const p = plugin();
  // Decreasing sizes: without FIFO the later, smaller ones would finish first.
  const list = await vectors([5, 4, 3, 2, 1].map((length) => ({ charset: CHARSETS.letters, length })));
  const finished: number[] = [];
  await Promise.all(list.map((v, i) => p.forward(v.request, ctx()).then((reply) => {
    assert.is(reply.output.password, v.password);
    finished.push(i);
  })));
  assert.equal(finished, [0, 1, 2, 3, 4]);
});

test('a full queue answers 503; the challenges already queued still run', async () => {
  const p = plugin({ maxQueue: 1, deadlineMs: 600 });
  const slow = await unsolvable();
  const first = p.forward(slow, ctx());
  const second = p.forward(slow, ctx());
  try {
    await p.forward(slow, ctx());
    assert.unreachable('a third challenge must be refused');
  } catch (err) {
    assert.instance(err, SynapseError);
    assert.is((err as SynapseError).code, 503);
  }
  const [a, b] = await Promise.all([first, second]);
  assert.match(a.output.error ?? '', /deadline/);
  assert.match(b.output.error ?? '', /deadline/);
});

test('the deadline counts from arrival: time spent waiting in the queue counts', async () => {
  const p = plugin({ deadlineMs: 800 });
  const slow = await unsolvable();
  const started = Date.now();
  const first = p.forward(slow, ctx({ receivedAt: started }));
  const [v] = await vectors([{ charset: CHARSETS.letters, length: 2 }]);
  const second = p.forward(v!.request, ctx({ receivedAt: started }));
  const [a, b] = await Promise.all([first, second]);
  assert.is(a.output.password, null);
  assert.match(a.output.error ?? '', /deadline passed before a password/);
  assert.is(b.output.password, null);
  assert.match(b.output.error ?? '', /deadline passed before the challenge started/);
  assert.ok(Date.now() - started < 3000);
});

test('an old arrival time leaves little of the deadline; the client deadline also bounds it', async () => {
  const p = plugin({ deadlineMs: 30_000 });
  const slow = await unsolvable();
  let started = Date.now();
  let reply = await p.forward(slow, ctx({ receivedAt: started - 29_700 }));
  assert.match(reply.output.error ?? '', /deadline/);
  assert.ok(Date.now() - started < 2000);
  started = Date.now();
  reply = await p.forward(slow, ctx({ deadline: started + 300 }));
  assert.match(reply.output.error ?? '', /deadline/);
  assert.ok(Date.now() - started < 2000);
});

test('an aborted request (client gone) stops its challenge', async () => {
  const p = plugin();
  const slow = await unsolvable();
  const controller = new AbortController();
  const started = Date.now();
  const pending = p.forward(slow, ctx({ signal: controller.signal }));
  setTimeout(() => controller.abort(), 200);
  const reply = await pending;
  assert.is(reply.output.password, null);
  assert.ok(Date.now() - started < 2000);
});

test('a keyspace without the answer is reported as exhausted, not as a timeout', async () => {
  const p = plugin();
  const slow = await unsolvable(3);
  const reply = await p.forward(slow, ctx());
  assert.match(reply.output.error ?? '', /no password/);
});

test('the service reports the built-in solver when hashcat is not chosen', async () => {
  const p = plugin({ threads: 3 });
  const info = await p.service.ready();
  assert.is(info.solver, 'built-in');
  assert.is(info.builtIn.threads, 3);
  assert.is(info.hashcat.state, 'off');
  assert.equal(p.service.info(), info);
});

test('concurrency lets every queued challenge reach the service', () => {
  const p = plugin({ maxQueue: 7 });
  assert.is(p.concurrency, 8);
});

test.run();
