// Disk-IO limits on real rental containers on the rental daemon's pool: a container created with
// them has them (docker inspect and its cgroup's throttle files); setIoLimits puts them on a running
// container from the host, and a write inside is then held to them. Bounded: a few MiB written.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { ensureBaseImage } from '../src/containers/base-image.js';
import { dockerodeEngine } from '../src/containers/docker.js';
import { rentalIoLimits, type IoLimits } from '../src/containers/io-limits.js';
import { setIoLimits } from '../src/containers/io-throttle.js';
import { DEFAULT_BASE_TAG } from '../src/containers/names.js';
import { containerCreateOptions, DEFAULT_CONTAINMENT, LIMITS_LABEL, rentalNetworkOptions, storageSizeBytes } from '../src/containers/options.js';
import { poolDevice } from '../src/host/pool.js';
import { rentalHostLayout } from '../src/host/rental-dockerd.js';
import { silentLogger } from '../src/log.js';
import { cgroupLimits, expectedCgroupLimits, majorMinorOf } from './helpers/io-cgroup.js';
import { freePort, RENTAL_SOCKET, requireDocker, testRun, type TestRun } from './helpers/docker.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

interface Ctx { docker: Dockerode; run: TestRun; device: string; imageBytes: number }
const io = suite<Ctx>('disk-IO limits on real rentals');

io.before(async (ctx) => {
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'io');
  const device = poolDevice(rentalHostLayout().pool);
  assert.ok(device, 'the pool is mounted on a loop device');
  ctx.device = device!;
  await ensureBaseImage(dockerodeEngine(ctx.docker), { dataDir: ctx.run.dataDir, log: silentLogger() });
  ctx.imageBytes = (await ctx.docker.getImage(DEFAULT_BASE_TAG).inspect()).Size;
});

io.after(async (ctx) => {
  await ctx.run?.cleanup();
});

async function rental(ctx: Ctx, ioLimits?: IoLimits): Promise<string> {
  const bridgeId = randomBytes(4).toString('hex');
  const network = `${ctx.run.namePrefix}net-${bridgeId}`;
  await ctx.docker.createNetwork(rentalNetworkOptions(network, bridgeId, ctx.run.labels));
  const options = containerCreateOptions({
    name: `${ctx.run.namePrefix}rental-${bridgeId}`, image: DEFAULT_BASE_TAG, labels: ctx.run.labels, cpuset: '0',
    memoryBytes: 256 * MiB, shmBytes: 64 * MiB, diskBytes: storageSizeBytes(256 * MiB, ctx.imageBytes), gpus: 0, sshBind: '127.0.0.1', sshPort: await freePort(),
    restartRetries: 0, network, containment: DEFAULT_CONTAINMENT, ...(ioLimits ? { ioLimits } : {}),
  });
  const container = await ctx.docker.createContainer(options);
  await container.start();
  return container.id;
}

io('a rental created with IO limits has them: docker inspect, its cgroup, its limits label', async (ctx) => {
  const limits = rentalIoLimits(1, ctx.device);
  const id = await rental(ctx, limits);
  const info = await ctx.docker.getContainer(id).inspect();
  assert.equal(info.HostConfig.BlkioDeviceWriteBps, [{ Path: ctx.device, Rate: limits.writeBps }]);
  assert.equal(info.HostConfig.BlkioDeviceReadBps, [{ Path: ctx.device, Rate: limits.readBps }]);
  assert.equal(info.HostConfig.BlkioDeviceWriteIOps, [{ Path: ctx.device, Rate: limits.writeIops }]);
  assert.equal(info.HostConfig.BlkioDeviceReadIOps, [{ Path: ctx.device, Rate: limits.readIops }]);
  assert.is(JSON.parse(info.Config.Labels[LIMITS_LABEL]!).io.writeBps, limits.writeBps);
  const majorMinor = majorMinorOf(ctx.device);
  const { version, text } = cgroupLimits(info.State.Pid);
  assert.is(text, expectedCgroupLimits(version, limits, majorMinor));
});

io('setIoLimits puts the limits on a running rental from the host, and its O_DIRECT writes are held to them', async (ctx) => {
  const id = await rental(ctx);
  const pid = (await ctx.docker.getContainer(id).inspect()).State.Pid;
  // Small enough to time: 2 MiB/s, so 6 MiB takes about 3 s instead of a fraction of one.
  const limits: IoLimits = { ...rentalIoLimits(1, ctx.device), writeBps: 2 * MiB };
  const result = await setIoLimits(pid, limits);
  assert.ok(result.files.length > 0);
  const majorMinor = majorMinorOf(ctx.device);
  const { version, text } = cgroupLimits(pid);
  assert.is(result.version, version);
  assert.is(text, expectedCgroupLimits(version, limits, majorMinor));
  const { stdout } = await run('docker', ['-H', `unix://${RENTAL_SOCKET}`, 'exec', id, 'sh', '-c',
    'dd if=/dev/zero of=/root/held bs=1M count=6 oflag=direct 2>&1; rm -f /root/held'], { timeout: 60_000 });
  const seconds = Number(/copied, ([\d.]+) s/.exec(stdout)?.[1]);
  assert.ok(seconds >= 2, `6 MiB at 2 MiB/s took ${seconds} s: ${stdout}`);
});

io.run();
