// Which disk a rental's IO limits go on: the mount under the engine's data root, a partition's
// whole disk (the kernel takes no partition in its throttles), nothing for what is no block device;
// and the operator's --disk-io-per-core, read strictly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_IO_RULE, formatIoRule, parseIoRule } from '../src/containers/io-limits.js';
import { ioDeviceOf, mountSourceOf, wholeDiskOf } from '../src/containers/io-device.js';
import { parseSize } from '../src/sizes.js';

const MOUNTINFO = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '40 22 7:0 / /var/lib/compute-miner/pool rw,relatime shared:20 - btrfs /dev/loop0 rw,space_cache=v2',
  '41 40 7:0 /docker /var/lib/compute-miner/pool/docker rw,relatime shared:20 - btrfs /dev/loop0 rw',
  '50 22 0:50 / /var/lib/compute-miner/pool-other rw - ext4 /dev/sdb1 rw',
  '60 22 0:60 / /srv/with\\040space rw - xfs /dev/sdc rw',
  '70 22 0:70 / /var/lib/docker rw - overlay overlay rw',
].join('\n');

test('the mount that holds a data root is the longest mount point above it', () => {
  assert.is(mountSourceOf(MOUNTINFO, '/var/lib/compute-miner/pool/docker'), '/dev/loop0');
  assert.is(mountSourceOf(MOUNTINFO, '/var/lib/compute-miner/pool/docker/100000.100000'), '/dev/loop0');
  assert.is(mountSourceOf(MOUNTINFO, '/var/lib/compute-miner/pool-other/x'), '/dev/sdb1', 'a name sharing a prefix is another mount');
  assert.is(mountSourceOf(MOUNTINFO, '/var/lib/compute-miner/poolx'), '/dev/vda');
  assert.is(mountSourceOf(MOUNTINFO, '/srv/with space/docker'), '/dev/sdc');
  assert.is(mountSourceOf(MOUNTINFO, '/var/lib/docker'), 'overlay');
  assert.is(mountSourceOf('', '/x'), null);
});

test('a partition gives way to its whole disk; what sysfs does not list is no device', () => {
  const sys = mkdtempSync(join(tmpdir(), 'cm-io-device-'));
  try {
    for (const dir of ['devices/sdz', 'devices/sdz/sdz1', 'devices/loop9']) mkdirSync(join(sys, dir), { recursive: true });
    writeFileSync(join(sys, 'devices/sdz/dev'), '8:0\n');
    writeFileSync(join(sys, 'devices/sdz/sdz1/dev'), '8:1\n');
    writeFileSync(join(sys, 'devices/sdz/sdz1/partition'), '1\n');
    writeFileSync(join(sys, 'devices/loop9/dev'), '7:9\n');
    const cls = join(sys, 'class');
    mkdirSync(cls);
    symlinkSync('../devices/sdz', join(cls, 'sdz'));
    symlinkSync('../devices/sdz/sdz1', join(cls, 'sdz1'));
    symlinkSync('../devices/loop9', join(cls, 'loop9'));
    assert.is(wholeDiskOf('/dev/sdz1', cls), '/dev/sdz');
    assert.is(wholeDiskOf('/dev/sdz', cls), '/dev/sdz');
    assert.is(wholeDiskOf('/dev/loop9', cls), '/dev/loop9');
    assert.is(wholeDiskOf('/dev/nosuch', cls), null);
    assert.is(wholeDiskOf('overlay', cls), null);
    assert.is(wholeDiskOf('tmpfs', cls), null);
  } finally {
    rmSync(sys, { recursive: true, force: true });
  }
});

test('this machine: the pool\'s data root is on its loop device, a tmpfs is on none', () => {
  const pool = ioDeviceOf('/var/lib/compute-miner/pool/docker');
  assert.ok(pool.device?.startsWith('/dev/loop'), `the pool is on a loop device (${JSON.stringify(pool)})`);
  const shm = ioDeviceOf('/dev/shm');
  assert.is(shm.device, null);
  if (shm.device === null) assert.match(shm.reason, /not a block device/);
});

test('--disk-io-per-core: SIZE,IOPS or off, and nothing else', () => {
  const rule = parseIoRule('50M,4000', parseSize)!;
  assert.equal(rule, { readBytesPerSecondPerCore: 50 * 1024 ** 2, writeBytesPerSecondPerCore: 50 * 1024 ** 2, readIopsPerCore: 4000, writeIopsPerCore: 4000 });
  assert.equal(rule, { ...DEFAULT_IO_RULE });
  assert.is(formatIoRule(DEFAULT_IO_RULE), '50M,4000');
  assert.is(parseIoRule(' OFF ', parseSize), null);
  assert.is(formatIoRule(null), 'off');
  assert.is(parseIoRule('1G, 20000', parseSize)!.writeIopsPerCore, 20000);
  for (const bad of ['', '50M', '50M,', ',4000', '50M,4000,1', '50M,-1', '50M,0', '50M,1.5', '100k,4000', 'fast,4000', '50M,4e3']) {
    assert.throws(() => parseIoRule(bad, parseSize), /--disk-io-per-core must be "off" or SIZE,IOPS/, `refused: ${JSON.stringify(bad)}`);
  }
});

test.run();
