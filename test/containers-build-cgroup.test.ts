// Where a renter's build gets its pids limit: a cgroup named after the rental (its id checked, as
// it becomes a path), in the pids hierarchy on cgroup v1 or the unified one on v2, removed from
// every hierarchy the runtime made it in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCgroupDir, buildCgroupName, buildCgroupOwner, cgroupMountPoints, sweepBuildCgroups } from '../src/containers/build-cgroup.js';
import { cgroupMounts } from '../src/containers/io-throttle.js';

const V1 = [
  '30 22 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids',
  '32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
  '33 30 0:29 / /sys/fs/cgroup/blkio rw,nosuid - cgroup cgroup rw,blkio',
  '34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
].join('\n');
const V2 = '30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';

test('the build cgroup is named after its miner and the rental id, and only hex becomes a path', () => {
  const owner = buildCgroupOwner('5F3sa2TJAWMqDhXG6jhV4N8ko9SxwGy8TpaNS1repo5EYjQX');
  assert.match(owner, /^[0-9a-f]{8}$/);
  assert.is.not(buildCgroupOwner('another miner'), owner);
  assert.is(buildCgroupName(owner, '0123abcd0123abcd'), `compute-miner-build-${owner}-0123abcd0123abcd`);
  for (const bad of ['', '../x', 'ABC', 'a/b', 'a b', 'x'.repeat(65)]) assert.throws(() => buildCgroupName(owner, bad), /unexpected rental id/);
  assert.throws(() => buildCgroupName('../../x', 'ab'), /unexpected build owner/);
});

test('a killed miner\'s build cgroups are swept at its start, another miner\'s never', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-build-cgroup-'));
  try {
    for (const h of ['pids', 'cpu']) for (const n of ['compute-miner-build-aaaaaaaa-01', 'compute-miner-build-bbbbbbbb-02', 'other']) mkdirSync(join(dir, h, n), { recursive: true });
    mkdirSync(join(dir, 'pids', 'compute-miner-build-aaaaaaaa-03', 'busy'), { recursive: true });
    const mountinfo = join(dir, 'mountinfo');
    writeFileSync(mountinfo, [`31 30 0:27 / ${dir}/pids rw - cgroup cgroup rw,pids`, `32 30 0:28 / ${dir}/cpu rw - cgroup cgroup rw,cpu`, `33 30 0:29 / ${dir} rw - tmpfs tmpfs rw`].join('\n'));
    assert.is(await sweepBuildCgroups('aaaaaaaa', mountinfo), 2);
    assert.equal(readdirSync(join(dir, 'pids')).sort(), ['compute-miner-build-aaaaaaaa-03', 'compute-miner-build-bbbbbbbb-02', 'other']);
    assert.equal(readdirSync(join(dir, 'cpu')).sort(), ['compute-miner-build-bbbbbbbb-02', 'other']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
