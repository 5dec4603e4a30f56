// test-lane: alone (see scripts/run-tests.mjs)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BuiltinSolver } from '../src/challenge/builtin.js';
import { CHARSETS, vectors } from './helpers/challenge.js';

const test = suite('built-in solver');
const solver = new BuiltinSolver({ threads: 2, chunkSize: 4096 });
test.after(async () => {
  await solver.close();
});
const never = () => new AbortController().signal;

test('finds python-hashed passwords at lengths 1–6 over plain, shell-special and multi-byte charsets', async () => {
  const cases = [
    ...[1, 2, 3, 4, 5, 6].map((length) => ({ charset: CHARSETS.letters, length })),
    ...[1, 2, 3, 4].map((length) => ({ charset: CHARSETS.shell, length })),
    ...[2, 4, 5].map((length) => ({ charset: CHARSETS.reference, length })),
    ...[1, 3, 5].map((length) => ({ charset: CHARSETS.multiByte, length })),
    { charset: CHARSETS.twoByte, length: 4 },
  ];
  for (const v of await vectors(cases)) {
    const outcome = await solver.solve(v.task, never());
    assert.is(outcome.status, 'found', JSON.stringify(v.password));
    assert.is(outcome.password, v.password);
    assert.is(outcome.solver, 'built-in');
  }
});

test('reports exhausted when no password of the length matches', async () => {
  const [v] = await vectors([{ charset: CHARSETS.letters, length: 4 }]);
  const outcome = await solver.solve({ ...v!.task, length: 3 }, never());
  assert.is(outcome.status, 'exhausted');
  assert.is(outcome.password, null);
  assert.is(outcome.hashes, 1000);
});

test('a timeout stops every thread promptly; the pool stays warm and solves the next challenge', async () => {
  // 10^8 candidates with the answer last: far longer than the 300 ms allowed.
  const [unreachable] = await vectors([{ charset: 'abcdefghij', length: 8 }]);
  const started = performance.now();
  const outcome = await solver.solve({ ...unreachable!.task, charset: [...'0123456789'] }, AbortSignal.timeout(300));
  const elapsed = performance.now() - started;
  assert.is(outcome.status, 'aborted');
  assert.ok(elapsed < 2000, `stopped after ${elapsed} ms`);
  assert.is(solver.liveWorkers(), 2);
  const [small] = await vectors([{ charset: CHARSETS.letters, length: 3 }]);
  assert.is((await solver.solve(small!.task, never())).password, small!.password);
});

test('cancellation through an AbortController mid-search returns aborted', async () => {
  const [v] = await vectors([{ charset: 'abcdefghij', length: 9 }]);
  const controller = new AbortController();
  const pending = solver.solve({ ...v!.task, charset: [...'0123456789'] }, controller.signal);
  setTimeout(() => controller.abort(), 100);
  const outcome = await pending;
  assert.is(outcome.status, 'aborted');
  assert.ok(outcome.seconds < 2, `took ${outcome.seconds} s`);
});

test('an already-aborted signal starts no work', async () => {
  const [v] = await vectors([{ charset: CHARSETS.letters, length: 3 }]);
  const outcome = await solver.solve(v!.task, AbortSignal.abort());
  assert.is(outcome.status, 'aborted');
  assert.is(outcome.hashes, 0);
});

test('close() terminates every search thread', async () => {
  const own = new BuiltinSolver({ threads: 3 });
  assert.is(own.liveWorkers(), 3);
  const [v] = await vectors([{ charset: CHARSETS.letters, length: 2 }]);
  assert.is((await own.solve(v!.task, never())).password, v!.password);
  await own.close();
  assert.is(own.liveWorkers(), 0);
  // The refusal is matched only on solve's own rejection, never on the assertion's message.
  await own.solve(v!.task, never()).then(
    () => assert.unreachable('a closed pool accepted work'),
    (err: Error) => assert.match(err.message, /closed/),
  );
});

test.run();
