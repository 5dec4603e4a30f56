// The rental user's subordinate ids, as data: the lines of /etc/subuid and /etc/subgid, overlaps,
// the first free range, and what is done with what the files already hold.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  freeRange, overlapsWith, parseSubordinateFile, planRange, rangesOverlap, subordinateEntry, SUBORDINATE_COUNT,
} from '../src/host/subordinate-ids.js';

const U = 'compute-miner-rental';

test('entry lines are written and read as shadow-utils does; comments and malformed lines are skipped', () => {
  assert.is(subordinateEntry({ owner: U, start: 100000, count: 65536 }), 'compute-miner-rental:100000:65536');
  assert.equal(parseSubordinateFile('# note\nalice:100000:65536\n\nbad line\nbob:x:1\ncarol:231072:65536\n'), [
    { owner: 'alice', start: 100000, count: 65536 },
    { owner: 'carol', start: 231072, count: 65536 },
  ]);
});

test('ranges overlap when they share one id; adjacent ranges do not', () => {
  assert.ok(rangesOverlap({ start: 100000, count: 10 }, { start: 100009, count: 10 }));
  assert.not.ok(rangesOverlap({ start: 100000, count: 10 }, { start: 100010, count: 10 }));
  assert.ok(rangesOverlap({ start: 100000, count: 100 }, { start: 100050, count: 1 }), 'one inside the other');
  assert.equal(overlapsWith({ owner: U, start: 100000, count: 65536 }, [{ owner: U, start: 100000, count: 65536 }, { owner: 'a', start: 150000, count: 5 }]).map((r) => r.owner), ['a'], 'its own entry is no clash');
});

test('the first free range starts at 100000, aligned, past every range in the way', () => {
  assert.equal(freeRange(U, []), { owner: U, start: 100000, count: SUBORDINATE_COUNT });
  assert.is(freeRange(U, [{ owner: 'a', start: 100000, count: 65536 }])!.start, 165536);
  assert.is(freeRange(U, [{ owner: 'a', start: 100000, count: 65536 }, { owner: 'b', start: 170000, count: 100000 }])!.start, 296608, 'past b, aligned');
  assert.is(freeRange(U, [{ owner: 'a', start: 0, count: 4294967295 }]), null, 'nothing free');
});

test('its own range is kept, a missing one added (same in both files), anything odd refused', () => {
  const mine = { owner: U, start: 231072, count: 65536 };
  const alice = { owner: 'alice', start: 100000, count: 65536 };
  assert.equal(planRange(U, [alice, mine], [alice, mine]), { action: 'keep', range: mine });
  assert.equal(planRange(U, [alice], [{ owner: 'bob', start: 165536, count: 65536 }]), { action: 'add', range: { owner: U, start: 231072, count: 65536 } }, 'clear of both files');
  assert.is(planRange(U, [mine], []).action, 'refuse', 'only in /etc/subuid');
  assert.is(planRange(U, [mine], [{ ...mine, start: 300000 }]).action, 'refuse', 'different numbers');
  assert.is(planRange(U, [{ ...mine, count: 1000 }], [{ ...mine, count: 1000 }]).action, 'refuse', 'too small');
  const clash = planRange(U, [mine, { owner: 'eve', start: 231072 + 100, count: 10 }], [mine]);
  assert.is(clash.action, 'refuse');
  assert.match((clash as { why: string }).why, /overlaps eve:231172:10/);
});

test.run();
