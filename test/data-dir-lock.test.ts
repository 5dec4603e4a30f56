// The data dir's lock: of two takers at once exactly one wins and the other learns its PID;
// the same directory reached by another path is the same lock; release frees it; another
// directory is another lock. (A killed holder is in miner-lock.test.ts, with real processes.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, lockDataDir, PID_FILE } from '../src/data-dir-lock.js';

/** The message of the error `p` rejects with. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the lock was taken twice');
}

test('two takers at once: one wins, the other is told the holder; release frees the lock', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lock-'));
  try {
    const results = await Promise.allSettled([lockDataDir(join(dir, 'data')), lockDataDir(join(dir, 'data'))]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.is(won.length, 1);
    assert.is(lost.length, 1);
    assert.instance(lost[0]!.reason, DataDirLockedError);
    assert.is((lost[0]!.reason as DataDirLockedError).holder?.pid, process.pid);
    const lock = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockDataDir>>>).value;
    lock.describe({ port: 8091 });
    assert.equal(JSON.parse(readFileSync(join(dir, 'data', PID_FILE), 'utf8')).port, 8091);
    assert.match(await refusal(lockDataDir(join(dir, 'data'))), /axon port 8091/);

    symlinkSync(join(dir, 'data'), join(dir, 'alias'));
    assert.match(await refusal(lockDataDir(join(dir, 'alias'))), /in use by another miner/, 'the same directory by another name');
    const other = await lockDataDir(join(dir, 'other'));
    await other.release();

    await lock.release();
    const again = await lockDataDir(join(dir, 'data'));
    await again.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
