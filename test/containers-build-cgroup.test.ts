// Where a renter's build gets its pids limit: a cgroup named after the rental (its id checked, as
// it becomes a path), in the pids hierarchy on cgroup v1 or the unified one on v2, removed from
// every hierarchy the runtime made it in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildCgroupDir, buildCgroupName, cgroupMountPoints } from '../src/containers/build-cgroup.js';
import { cgroupMounts } from '../src/containers/io-throttle.js';

const V1 = [
  '30 22 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids',
  '32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
  '33 30 0:29 / /sys/fs/cgroup/blkio rw,nosuid - cgroup cgroup rw,blkio',
  '34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
].join('\n');
const V2 = '30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';

test('the build cgroup is named after the rental id, and only a hex id becomes a path', () => {
  assert.is(buildCgroupName('0123abcd0123abcd'), 'compute-miner-build-0123abcd0123abcd');
  for (const bad of ['', '../x', 'ABC', 'a/b', 'a b', 'x'.repeat(65)]) assert.throws(() => buildCgroupName(bad), /unexpected rental id/);
});

test('its pids.max lives in the pids hierarchy on v1, the unified one on v2', () => {
  assert.equal(buildCgroupDir(cgroupMounts(V1), 'compute-miner-build-ab'), { dir: '/sys/fs/cgroup/pids/compute-miner-build-ab', version: 1 });
  assert.equal(buildCgroupDir(cgroupMounts(V2), 'compute-miner-build-ab'), { dir: '/sys/fs/cgroup/compute-miner-build-ab', version: 2 });
  assert.is(buildCgroupDir(cgroupMounts(''), 'compute-miner-build-ab'), null);
});

test('every cgroup hierarchy is listed for the removal, no other mount', () => {
  assert.equal(cgroupMountPoints(V1), ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/blkio', '/sys/fs/cgroup/memory']);
  assert.equal(cgroupMountPoints(V2), ['/sys/fs/cgroup']);
});

test.run();
