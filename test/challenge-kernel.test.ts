import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createKernel } from '../src/challenge/blake2b-wasm.js';
import { digitsAt, keyspaceSize, passwordAt, MAX_INDEX } from '../src/challenge/keyspace.js';
import { RangeSearch, type SearchJob } from '../src/challenge/search.js';
import { isAnswer, fitsTask } from '../src/challenge/solver.js';
import { CHARSETS, vectors } from './helpers/challenge.js';

function kernelDigest(message: Uint8Array): string {
  const kernel = createKernel();
  kernel.block.fill(0);
  kernel.block.set(message);
  kernel.compress(message.length);
  return Buffer.from(kernel.digest).toString('hex');
}

test('kernel: BLAKE2b-512 equals createHash on random messages of every length 0–128', () => {
  const kernel = createKernel();
  for (let length = 0; length <= 128; length++) {
    for (let i = 0; i < 8; i++) {
      const message = randomBytes(length);
      kernel.block.fill(0);
      kernel.block.set(message);
      const want = createHash('blake2b512').update(message).digest();
      kernel.target.set(want.subarray(0, 8));
      assert.is(kernel.compress(length), 1, `first word at length ${length}`);
      assert.is(Buffer.from(kernel.digest).toString('hex'), want.toString('hex'), `length ${length}`);
    }
  }
});

test('kernel: multi-byte UTF-8 passwords with salts hash as createHash does', () => {
  const pieces = ['é', '€', '𝄞', 'ß', 'a', '$', ' ', '漢'];
  for (let i = 0; i < 500; i++) {
    const text = Array.from({ length: randomInt(1, 20) }, () => pieces[randomInt(pieces.length)]).join('') + randomBytes(8).toString('hex');
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > 128) continue;
    assert.is(kernelDigest(bytes), createHash('blake2b512').update(text, 'utf8').digest('hex'));
  }
});

test('kernel: compress reports no match when the first digest word differs', () => {
  const kernel = createKernel();
  kernel.block.fill(0);
  kernel.block.set(Buffer.from('abc'));
  kernel.target.fill(0);
  assert.is(kernel.compress(3), 0);
});

test('keyspace: indices map to passwords with the last character turning fastest', () => {
  assert.is(keyspaceSize(10, 3), 1000);
  assert.is(keyspaceSize(1024, 12), MAX_INDEX);
  assert.equal([...digitsAt(123, 10, 4)], [0, 1, 2, 3]);
  assert.is(passwordAt(['a', 'b', 'c'], 3, 0), 'aaa');
  assert.is(passwordAt(['a', 'b', 'c'], 3, 5), 'abc');
  assert.is(passwordAt(['a', 'b', 'c'], 3, 26), 'ccc');
});

function jobOf(task: { digest: Buffer; salt: Buffer; charset: string[]; length: number }): SearchJob {
  return { digest: task.digest, salt: task.salt, charset: task.charset.map((c) => Buffer.from(c, 'utf8')), length: task.length };
}

test('search: finds python-hashed passwords over one-byte, two-byte and mixed-width charsets', async () => {
  const cases = [
    ...[1, 2, 3, 4].map((length) => ({ charset: CHARSETS.letters, length })),
    ...[1, 2, 3].map((length) => ({ charset: CHARSETS.twoByte, length })),
    ...[1, 2, 3, 4].map((length) => ({ charset: CHARSETS.multiByte, length })),
    { charset: CHARSETS.shell, length: 3, salt: 'a:b c$d' },
  ];
  for (const v of await vectors(cases)) {
    const total = keyspaceSize(v.task.charset.length, v.task.length);
    const found = new RangeSearch(jobOf(v.task)).run(0, total);
    assert.ok(found >= 0, `no answer for ${JSON.stringify(v.password)}`);
    assert.is(passwordAt(v.task.charset, v.task.length, found), v.password);
  }
});

test('search: a slice that does not hold the answer returns -1; slices cover the keyspace exactly', async () => {
  const [v] = await vectors([{ charset: CHARSETS.letters, length: 4 }]);
  const search = new RangeSearch(jobOf(v!.task));
  const at = search.run(0, 10_000);
  assert.ok(at >= 0);
  assert.is(search.run(0, at), -1);
  assert.is(search.run(at + 1, 10_000), -1);
  assert.is(search.run(at, at + 1), at);
});

test('search: candidates longer than one block take the general path and are still found', async () => {
  const salt = 'x'.repeat(140);
  const [v] = await vectors([{ charset: CHARSETS.multiByte, length: 2, salt }]);
  const found = new RangeSearch(jobOf(v!.task)).run(0, 36);
  assert.is(passwordAt(v!.task.charset, 2, found), v!.password);
});

test('answer checks: isAnswer and fitsTask reject wrong passwords', async () => {
  const [v] = await vectors([{ charset: CHARSETS.letters, length: 3 }]);
  assert.ok(isAnswer(v!.task, v!.password));
  assert.not.ok(isAnswer(v!.task, v!.password + 'a'));
  assert.ok(fitsTask(v!.task, v!.password));
  assert.not.ok(fitsTask(v!.task, 'zzz'));
  assert.not.ok(fitsTask(v!.task, 'aaaa'));
});

test.run();
