// Pure parts of the rental side of a fleet: each slot's data dir, names and labels; each slot's
// share of the renter port pool; a remote host in the Specs shapes; the container options of a
// placed rental (GPUs by index, the renter's ports beside SSH); the miner's pool flags.
import { test } from 'uvu';
import { ALL_GPUS_REQUEST, parseGpuIndexes } from '../src/fleet/engine-gpus.js';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { parseMinerArgs } from '../src/config.js';
import { containerCreateOptions, DEFAULT_CONTAINMENT } from '../src/containers/options.js';
import { slotPlan, slotRenterPorts } from '../src/fleet/compose.js';
import { parsePortPool } from '../src/resources/ports.js';
import { engineSpecs } from '../src/fleet/specs-source.js';

const GiB = 1024 ** 3;

test('slotPlan: one port keeps the one-rental layout; a pool gives every other slot its own dir, prefix and slot label', () => {
  const setup = { dataDir: '/d', namePrefix: 'x-', labels: { run: '1' } };
  assert.equal(slotPlan(setup, 'local', 4444, true, false), { dataDir: '/d', namePrefix: 'x-', labels: { run: '1' } });
  assert.equal(slotPlan(setup, 'local', 4444, true, true), { dataDir: '/d', namePrefix: 'x-', labels: { run: '1', 'compute-miner.slot': 'local/4444' } });
  assert.equal(slotPlan(setup, 'gpu-a', 4445, false, true), {
    dataDir: join('/d', 'slots', 'gpu-a', '4445'), namePrefix: 'x-gpu-a-p4445-', labels: { run: '1', 'compute-miner.slot': 'gpu-a/4445' },
  });
});

test('slotRenterPorts: each slot its own consecutive share of the pool, container ports from 20000', () => {
  const pool = parsePortPool('30000-30003,30010,30011', 'pool');
  assert.equal(slotRenterPorts(pool, 2, 0), { 20000: 30000, 20001: 30001 });
  assert.equal(slotRenterPorts(pool, 2, 1), { 20000: 30002, 20001: 30003 });
  assert.equal(slotRenterPorts(pool, 2, 2), { 20000: 30010, 20001: 30011 });
  assert.throws(() => slotRenterPorts(pool, 2, 3), /too few ports for SSH port number 4 \(2 each\)/);
  assert.equal(slotRenterPorts(null, 2, 0), {});
  assert.equal(slotRenterPorts(pool, 0, 5), {});
});

test('engineSpecs: a remote host in the Specs shapes from what its engine says; nothing for a host never read', () => {
  const specs = engineSpecs({ cpuCount: 8, availableMemoryBytes: 30 * GiB, freeDiskBytes: Number.MAX_SAFE_INTEGER, gpuCount: 0, storage: { enforced: true }, totalMemoryBytes: 32 * GiB, totalDiskBytes: null });
  assert.equal(specs, {
    cpu: { count: 8, frequency: 0, vendor: '', model: '' },
    gpu: { count: 0, capacity: 0, details: [] },
    hard_disk: { total: 0, free: 0, used: 0 },
    ram: { total: 32 * GiB, available: 30 * GiB, used: 0, free: 30 * GiB },
    docker: { available: true, version: '' },
  });
  assert.is(engineSpecs(null), null);
  const local = engineSpecs({ cpuCount: 2, availableMemoryBytes: GiB, freeDiskBytes: 3 * GiB, gpuCount: 0, storage: { enforced: true }, totalMemoryBytes: 2 * GiB, totalDiskBytes: 10 * GiB });
  assert.equal(local!.hard_disk, { total: 10 * GiB, free: 3 * GiB, used: 7 * GiB });
});

const plan = {
  name: 'n', image: 'i', labels: {}, cpuset: '2-3', memoryBytes: GiB, shmBytes: GiB / 2, diskBytes: null,
  gpus: 2 as number | 'all', sshBind: '10.0.0.5', sshPort: 4445, restartRetries: 5, network: 'net', containment: DEFAULT_CONTAINMENT,
};

test('container options of a placed rental: GPUs by DeviceIDs (no Count), the renter ports published on the SSH bind', () => {
  const o = containerCreateOptions({ ...plan, gpuDeviceIds: ['1', '3'], renterPorts: { 20000: 30002, 20001: 30003 } });
  assert.equal(o.HostConfig!.DeviceRequests, [{ Driver: 'nvidia', DeviceIDs: ['1', '3'], Capabilities: [['gpu']] }]);
  assert.equal(o.HostConfig!.PortBindings, {
    '22/tcp': [{ HostIp: '10.0.0.5', HostPort: '4445' }],
    '20000/tcp': [{ HostIp: '10.0.0.5', HostPort: '30002' }],
    '20001/tcp': [{ HostIp: '10.0.0.5', HostPort: '30003' }],
  });
  assert.equal(o.ExposedPorts, { '22/tcp': {}, '20000/tcp': {}, '20001/tcp': {} });
  // Without a placement the count is kept, as a one-rental host always asked.
  const counted = containerCreateOptions(plan);
  assert.equal(counted.HostConfig!.DeviceRequests, [{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }]);
  assert.equal(counted.ExposedPorts, { '22/tcp': {} });
});

test('miner flags: --ssh-ports pools, --renter-ports from its own pool, --hosts excludes the local host\'s flags', () => {
  const ok = (argv: string[]) => { const r = parseMinerArgs(argv); if (!r.ok) throw new Error(r.error); return r.config; };
  const err = (argv: string[]) => { const r = parseMinerArgs(argv); assert.not.ok(r.ok, argv.join(' ')); return (r as { error: string }).error; };
  const pooled = ok(['--ssh-ports', '4444-4446,4450', '--renter-ports', '2']);
  assert.equal(pooled.sshPorts.ports, [4444, 4445, 4446, 4450]);
  assert.is(pooled.sshPort, 4444);
  assert.is(pooled.renterPorts, 2);
  assert.equal(pooled.renterPortPool!.ports.slice(0, 2), [30000, 30001]);
  assert.equal(ok([]).sshPorts.ports, [4444], '--ssh-port stays a pool of one');
  assert.is(ok([]).renterPortPool, null);
  assert.is(err(['--ssh-ports', '4459-4444']), '--ssh-ports: "4459-4444" runs backwards (4459 > 4444); write 4444-4459');
  assert.match(err(['--ssh-port', '4444', '--ssh-ports', '4444-4445']), /^--ssh-port and --ssh-ports exclude each other/);
  assert.match(err(['--ssh-ports', '8090-8092', '--port', '8091']), /^--ssh-ports and --port must differ: 8091 is in both/);
  assert.match(err(['--renter-ports', '101']), /^--renter-ports: 101 is more than 100/);
  assert.match(err(['--renter-ports', 'x']), /^--renter-ports: must be a whole number/);
  assert.match(err(['--ssh-ports', '4444-4447', '--renter-ports', '3', '--renter-port-pool', '30000-30010']), /^--renter-port-pool: 11 ports for 4 rentals × 3 renter ports \(12 needed\)/);
  assert.match(err(['--renter-ports', '1', '--renter-port-pool', '4444']), /^--renter-port-pool: port 4444 is also an SSH port/);
  assert.match(err(['--hosts', 'h.json', '--ssh-ports', '4444-4445']), /^--hosts and --ssh-ports exclude each other/);
  assert.match(err(['--hosts', 'h.json', '--docker-socket', '/x']), /^--hosts and --docker-socket exclude each other/);
  assert.ok(ok(['--hosts', 'h.json']).hostsFile!.endsWith('h.json'));
});

test('nvidia-smi index lines: GPUs counted, anything else is not a GPU; the request is that of --gpus all', () => {
  assert.equal(parseGpuIndexes('0\r\n1\n2\n'), [0, 1, 2]);
  assert.equal(parseGpuIndexes(''), []);
  assert.equal(parseGpuIndexes('No devices were found\n'), []);
  assert.equal(parseGpuIndexes('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.\n'), []);
  assert.equal(ALL_GPUS_REQUEST, { Driver: 'nvidia', Count: -1, Capabilities: [['gpu', 'utility']] });
});

test.run();
