// Percentiles as the benchmarks and the validator's reports quote them: nearest rank, whatever
// the order of the measured times.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { percentile } from '../src/stats.js';

test('nearest-rank percentiles of an unsorted list', () => {
  const times = [155, 120, 900, 130, 128, 140, 132, 131, 129, 600];
  assert.is(percentile(times, 50), 131);
  assert.is(percentile(times, 90), 600);
  assert.is(percentile(times, 100), 900);
  assert.is(percentile(times, 0), 120);
  assert.equal(times[0], 155, 'the caller\'s list is left in its order');
});

test('an empty list has no percentile', () => {
  assert.ok(Number.isNaN(percentile([], 50)));
});

test.run();
