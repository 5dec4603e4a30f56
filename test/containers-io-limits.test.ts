// Disk-IO limits, the pure parts: the per-core rule, the Engine API fields, the limits label, and
// how a running container's cgroup and its throttle lines are found and written (v1 and v2).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { containerCreateOptions, DEFAULT_CONTAINMENT, LIMITS_LABEL, type ContainerPlan } from '../src/containers/options.js';
import { blkioHostConfig, DEFAULT_IO_RULE, ioRuleProblem, rentalIoLimits } from '../src/containers/io-limits.js';
import {
  cgroupDirectory, cgroupMounts, deviceNumber, ioCgroupVersion, processCgroup, v1ThrottleWrites, v2IoMaxLine,
} from '../src/containers/io-throttle.js';
import { mountedSource } from '../src/host/pool.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const plan = (over: Partial<ContainerPlan> = {}): ContainerPlan => ({
  name: 'p-ssh-container', image: 'ssh-image-base:latest', labels: { 'compute-miner.owner': '5Abc' }, cpuset: '2-3',
  memoryBytes: 2 * GiB, shmBytes: GiB, diskBytes: 10 * GiB, gpus: 0, sshBind: '127.0.0.1', sshPort: 4444, restartRetries: 5,
  network: 'p-cm-net-0a1b2c3d', containment: DEFAULT_CONTAINMENT, ...over,
});

test('the rule: 50 MiB/s and 4000 IOPS per core, each way, scaled by the rented cores', () => {
  assert.equal({ ...DEFAULT_IO_RULE }, { readBytesPerSecondPerCore: 50 * MiB, writeBytesPerSecondPerCore: 50 * MiB, readIopsPerCore: 4000, writeIopsPerCore: 4000 });
  assert.equal(rentalIoLimits(1, '/dev/loop0'), { device: '/dev/loop0', readBps: 50 * MiB, writeBps: 50 * MiB, readIops: 4000, writeIops: 4000 });
  assert.equal(rentalIoLimits(4, '/dev/loop3'), { device: '/dev/loop3', readBps: 200 * MiB, writeBps: 200 * MiB, readIops: 16000, writeIops: 16000 });
  // A weight only when the rule has one, capped at Docker's 1000.
  assert.is(rentalIoLimits(2, '/dev/loop0').weight, undefined);
  assert.is(rentalIoLimits(2, '/dev/loop0', { ...DEFAULT_IO_RULE, weightPerCore: 100 }).weight, 200);
  assert.is(rentalIoLimits(64, '/dev/loop0', { ...DEFAULT_IO_RULE, weightPerCore: 100 }).weight, 1000);
  assert.throws(() => rentalIoLimits(0, '/dev/loop0'), /cores/);
  assert.throws(() => rentalIoLimits(1, 'loop0'), /block device/);
  assert.match(ioRuleProblem({ ...DEFAULT_IO_RULE, writeIopsPerCore: 0 }) ?? '', /IOPS/);
  assert.match(ioRuleProblem({ ...DEFAULT_IO_RULE, readBytesPerSecondPerCore: 1.5 }) ?? '', /bandwidth/);
  assert.match(ioRuleProblem({ ...DEFAULT_IO_RULE, weightPerCore: 5 }) ?? '', /weight/);
  assert.is(ioRuleProblem(DEFAULT_IO_RULE), null);
});

test('containerCreateOptions: IO limits as BlkioDevice* on the pool device, only when given', () => {
  const limits = rentalIoLimits(2, '/dev/loop0');
  const h = containerCreateOptions(plan({ ioLimits: limits })).HostConfig!;
  assert.equal(h.BlkioDeviceReadBps, [{ Path: '/dev/loop0', Rate: 100 * MiB }]);
  assert.equal(h.BlkioDeviceWriteBps, [{ Path: '/dev/loop0', Rate: 100 * MiB }]);
  assert.equal(h.BlkioDeviceReadIOps, [{ Path: '/dev/loop0', Rate: 8000 }]);
  assert.equal(h.BlkioDeviceWriteIOps, [{ Path: '/dev/loop0', Rate: 8000 }]);
  assert.is(h.BlkioWeight, undefined);
  assert.is(blkioHostConfig({ ...limits, weight: 300 }).BlkioWeight, 300);
  // Callers that pass none get what they got before.
  const none = containerCreateOptions(plan()).HostConfig!;
  for (const field of ['BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'BlkioWeight'] as const) assert.is(none[field], undefined, field);
});

test('the limits label: cpuset, memory, shm, disk and IO the container was created with, in one JSON', () => {
  const o = containerCreateOptions(plan({ ioLimits: rentalIoLimits(2, '/dev/loop0') }));
  assert.is(o.Labels!['compute-miner.owner'], '5Abc');
  assert.equal(JSON.parse(o.Labels![LIMITS_LABEL]!), {
    setAt: 'create', cpuset: '2-3', memoryBytes: 2 * GiB, shmBytes: GiB, diskBytes: 10 * GiB,
    io: { device: '/dev/loop0', readBps: 100 * MiB, writeBps: 100 * MiB, readIops: 8000, writeIops: 8000 },
  });
});

const MOUNTINFO_V1 = [
  '22 1 0:21 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '30 22 0:28 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
  '31 22 0:29 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '46 26 0:39 / /var/lib/compute-miner/pool rw,relatime - btrfs /dev/loop0 rw,space_cache=v2,subvolid=5,subvol=/',
].join('\n');
const MOUNTINFO_V2 = '25 1 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
const ID = 'a'.repeat(64);
const PROC_V1 = `9:name=systemd:/docker/${ID}\n8:pids:/docker/${ID}\n7:blkio:/docker/${ID}\n4:memory:/docker/${ID}\n0::/\n`;
const PROC_V2 = `0::/system.slice/docker-${ID}.scope\n`;

test('the pool device and a container\'s IO cgroup are read from mountinfo and /proc/<pid>/cgroup, v1 and v2', () => {
  assert.is(mountedSource(MOUNTINFO_V1, '/var/lib/compute-miner/pool'), '/dev/loop0');
  assert.is(mountedSource(MOUNTINFO_V1, '/elsewhere'), null);
  const v1 = cgroupMounts(MOUNTINFO_V1);
  assert.equal(v1.blkio, { mountPoint: '/sys/fs/cgroup/blkio', root: '/' });
  assert.is(ioCgroupVersion(v1, PROC_V1), 1);
  assert.is(processCgroup(PROC_V1, 1), `/docker/${ID}`);
  assert.is(cgroupDirectory(v1.blkio!, processCgroup(PROC_V1, 1)!), `/sys/fs/cgroup/blkio/docker/${ID}`);
  const v2 = cgroupMounts(MOUNTINFO_V2);
  assert.is(v2.blkio, undefined);
  assert.is(ioCgroupVersion(v2, PROC_V2), 2);
  assert.is(cgroupDirectory(v2.unified!, processCgroup(PROC_V2, 2)!), `/sys/fs/cgroup/system.slice/docker-${ID}.scope`);
  // A mount of a sub-tree (inside a container, say) drops its root from the path.
  assert.is(cgroupDirectory({ mountPoint: '/sys/fs/cgroup/blkio', root: '/docker' }, `/docker/${ID}`), `/sys/fs/cgroup/blkio/${ID}`);
  assert.throws(() => cgroupDirectory(v1.blkio!, '/docker/../../etc'), /unexpected/);
  assert.is(ioCgroupVersion({}, PROC_V1), null);
});

test('the throttle lines: four blkio.throttle files on v1, one io.max line on v2, by major:minor', () => {
  const limits = rentalIoLimits(1, '/dev/loop0');
  assert.is(deviceNumber('7:0\n'), '7:0');
  assert.throws(() => deviceNumber('7:0 rbps=1'), /device number/);
  assert.equal(v1ThrottleWrites(limits, '7:0'), [
    { file: 'blkio.throttle.read_bps_device', text: `7:0 ${50 * MiB}` },
    { file: 'blkio.throttle.write_bps_device', text: `7:0 ${50 * MiB}` },
    { file: 'blkio.throttle.read_iops_device', text: '7:0 4000' },
    { file: 'blkio.throttle.write_iops_device', text: '7:0 4000' },
  ]);
  assert.is(v2IoMaxLine(limits, '7:0'), `7:0 rbps=${50 * MiB} wbps=${50 * MiB} riops=4000 wiops=4000`);
});

test.run();
