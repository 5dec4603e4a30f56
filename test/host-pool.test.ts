// The storage pool on a real loop-mounted btrfs image in a temporary directory: made when
// missing, found again when present (never formatted twice), refused when the image is not
// btrfs (and left untouched), refused when too small.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePool, isBtrfsMagic, mountedType, poolDevice, poolStatus, PoolError } from '../src/host/pool.js';
import { holdsContainers, holdsOwnContainers, parseQuotaMode, quotaMode } from '../src/host/pool-quota.js';

const GiB = 1024 ** 3;

test('isBtrfsMagic and mountedType read the super block magic and mountinfo', () => {
  assert.ok(isBtrfsMagic(Buffer.from('_BHRfS_M')));
  assert.not.ok(isBtrfsMagic(Buffer.alloc(8)));
  const info = '36 25 0:32 / /var/lib/x rw,relatime shared:1 - btrfs /dev/loop0 rw\n37 25 0:33 / /mnt/a\\040b rw - ext4 /dev/vda rw\n';
  assert.is(mountedType(info, '/var/lib/x'), 'btrfs');
  assert.is(mountedType(info, '/mnt/a b'), 'ext4');
  assert.is(mountedType(info, '/nowhere'), null);
});

test('a missing pool is made, mounted with quotas, and found again without formatting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-pool-'));
  const paths = { image: join(dir, 'pool.img'), mountPoint: join(dir, 'pool') };
  try {
    const made = await ensurePool(paths, 2 * GiB);
    assert.is(made.created, true);
    assert.ok(made.sizeBytes > 1.5 * GiB && made.sizeBytes <= 2 * GiB, `size ${made.sizeBytes}`);
    assert.ok(statSync(paths.image).blocks * 512 < 512 * 1024 ** 2, 'the image is sparse');
    assert.is(poolStatus(paths)?.mountPoint, paths.mountPoint);
    execFileSync('btrfs', ['qgroup', 'show', paths.mountPoint]); // quotas are on, or this throws
    // Simple quotas where the kernel has them (6.7+), full qgroups elsewhere.
    const [major, minor] = (readFileSync('/proc/sys/kernel/osrelease', 'utf8').match(/^(\d+)\.(\d+)/) ?? []).slice(1).map(Number);
    const simpleKernel = major! > 6 || (major === 6 && minor! >= 7);
    assert.is(made.quota, simpleKernel ? 'simple' : 'full');
    assert.is(quotaMode(poolDevice(paths)!), made.quota);
    writeFileSync(join(paths.mountPoint, 'kept'), 'data');
    const again = await ensurePool(paths, 2 * GiB);
    assert.is(again.created, false);
    // Unmounted and mounted again: the same file system, its data kept.
    execFileSync('umount', [paths.mountPoint]);
    assert.is(poolStatus(paths), null);
    const remounted = await ensurePool(paths, 2 * GiB);
    assert.is(remounted.created, false);
    assert.is(readFileSync(join(paths.mountPoint, 'kept'), 'utf8'), 'data');
  } finally {
    try { execFileSync('umount', [paths.mountPoint]); } catch { /* not mounted */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseQuotaMode reads sysfs qgroups/mode', () => {
  assert.is(parseQuotaMode('squota\n'), 'simple');
  assert.is(parseQuotaMode('qgroup\n'), 'full');
  assert.is(parseQuotaMode(null), 'off');
  assert.is(parseQuotaMode('something new'), 'off');
});

test('the data root holds containers in its own root or in a remapped daemon\'s <uid>.<gid> below it', () => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'cm-roots-'));
  try {
    assert.is(holdsContainers(dataRoot), false);
    mkdirSync(join(dataRoot, 'containers'));
    mkdirSync(join(dataRoot, '100000.100000', 'containers', 'abc'), { recursive: true });
    assert.is(holdsOwnContainers(dataRoot), false, 'an empty containers dir (after a switch) holds none');
    assert.is(holdsContainers(dataRoot), true, 'the remapped root\'s count');
    mkdirSync(join(dataRoot, 'containers', 'def'));
    assert.is(holdsOwnContainers(dataRoot), true);
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }
});

test('a pool with full qgroups switches to simple quotas at a start only while it holds no container', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-pool-'));
  const paths = { image: join(dir, 'pool.img'), mountPoint: join(dir, 'pool') };
  const dataRoot = join(paths.mountPoint, 'docker');
  try {
    const made = await ensurePool(paths, 2 * GiB, dataRoot);
    if (made.quota !== 'simple') return; // a kernel without simple quotas keeps full ones: nothing to switch
    const device = poolDevice(paths)!;
    const toFull = () => {
      execFileSync('btrfs', ['quota', 'disable', paths.mountPoint]);
      execFileSync('btrfs', ['quota', 'enable', paths.mountPoint]);
      assert.is(quotaMode(device), 'full');
    };
    toFull();
    execFileSync('mkdir', ['-p', join(dataRoot, 'containers', 'c1')]);
    const kept = await ensurePool(paths, 2 * GiB, dataRoot);
    assert.is(kept.quota, 'full', 'a pool holding a container keeps its limits');
    assert.match(kept.quotaNote ?? '', /switches to simple quotas at a start when it holds no container/);
    rmSync(join(dataRoot, 'containers', 'c1'), { recursive: true });
    const switched = await ensurePool(paths, 2 * GiB, dataRoot);
    assert.is(switched.quota, 'simple');
    assert.is(quotaMode(device), 'simple');
    assert.match(switched.quotaNote ?? '', /switched the pool from full qgroups to simple quotas/);
  } finally {
    try { execFileSync('umount', [paths.mountPoint]); } catch { /* not mounted */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an image that is not btrfs is refused and left as it was; a pool under 2 GiB is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-pool-'));
  const paths = { image: join(dir, 'pool.img'), mountPoint: join(dir, 'pool') };
  try {
    writeFileSync(paths.image, Buffer.alloc(3 * 1024 * 1024, 0x5a));
    const before = createHash('sha256').update(readFileSync(paths.image)).digest('hex');
    const err = await ensurePool(paths, 2 * GiB).then(() => null, (e: Error) => e);
    assert.instance(err, PoolError);
    assert.match(err!.message, /holds no btrfs file system \(corrupt or not a pool image\); move it away/);
    assert.is(createHash('sha256').update(readFileSync(paths.image)).digest('hex'), before, 'never formatted');
    assert.is(poolStatus(paths), null);
    const small = await ensurePool({ image: join(dir, 'small.img'), mountPoint: join(dir, 'small') }, GiB).then(() => null, (e: Error) => e);
    assert.match(small?.message ?? '', /at least 2 GiB/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
