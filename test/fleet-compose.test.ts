// The rental side of a fleet as compose builds it: each host's data dir, older records (one per
// SSH port) adopted into the ledger, one service over every host; a remote host in the Specs
// shapes; the container options of a placed rental (GPUs by index, the renter's ports beside
// SSH); the miner's pool flags. (slotPlan and slotRenterPorts are gone with the per-port
// managers: renter ports are chosen per rental from the host's pool, tested in fleet-ports.)
import { test } from 'uvu';
import { ALL_GPUS_REQUEST, parseGpuIndexes } from '../src/fleet/engine-gpus.js';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { parseMinerArgs } from '../src/config.js';
import { containerCreateOptions, DEFAULT_CONTAINMENT } from '../src/containers/options.js';
import { allocationStore, HOLDER_KEY_FILE, RECORD_FILE, type AllocationRecord } from '../src/containers/store.js';
import { composeRentals, hostDataDir, type HostSetup } from '../src/fleet/compose.js';
import { silentLogger } from '../src/log.js';
import { LEDGER_DIR } from '../src/rentals/ledger.js';
import { rentalFromRecord } from '../src/rentals/legacy.js';
import { rentalSchema } from '../src/rentals/record.js';
import { parsePortPool } from '../src/resources/ports.js';
import { engineSpecs } from '../src/fleet/specs-source.js';

const GiB = 1024 ** 3;

test('hostDataDir: the first host keeps the data dir itself, every other host a dir of its own', () => {
  assert.is(hostDataDir('/d', 'local', true), '/d');
  assert.is(hostDataDir('/d', 'gpu-a', false), join('/d', 'hosts', 'gpu-a'));
  assert.is.not(hostDataDir('/d', 'gpu-a', false), hostDataDir('/d', 'gpu-b', false));
});

const oldRecord = (over: Partial<AllocationRecord> = {}): AllocationRecord => ({
  version: 1, id: '0123456789abcdef', holderKey: Buffer.from('-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n').toString('base64'),
  role: 'ssh-container', containerId: 'c'.repeat(64), containerName: 'ssh-container', image: 'ssh-image-base:latest', ownImage: false,
  port: 4444, cpuset: '0-1', createdAt: 1_700_000_000_000, deadline: 1_700_086_400_000, keys: { user: 'ssh-ed25519 AAAA u' }, ...over,
});

test('rentalFromRecord: an older record as a live ledger rental with its id, container, port, deadline, keys and grant', () => {
  const rental = rentalFromRecord(oldRecord({ role: 'ssh-test-container', network: 'net-1', memoryBytes: GiB, diskBytes: 2 * GiB, gpuIds: [1] }), 'gpu-a');
  assert.equal(rentalSchema.parse(rental), rental, 'a valid v2 record');
  assert.equal(rental, {
    version: 2, id: '0123456789abcdef', holderKey: oldRecord().holderKey, role: 'test', phase: 'live', host: 'gpu-a',
    grant: { cpuset: '0-1', gpus: [1], sshPort: 4444, renterPorts: {}, memoryBytes: GiB, diskBytes: 2 * GiB },
    createdAt: 1_700_000_000_000, deadline: 1_700_086_400_000, hostKeys: [], keys: { user: 'ssh-ed25519 AAAA u' },
    workload: { container: 'c'.repeat(64), name: 'ssh-container', image: 'ssh-image-base:latest', ownImage: false, network: 'net-1' },
  });
  // Records older still name no memory, disk or GPUs: none is counted for them.
  const bare = rentalFromRecord(oldRecord(), 'local');
  assert.equal([bare.role, bare.grant.gpus, bare.grant.memoryBytes, bare.grant.diskBytes, bare.workload!.network], ['rental', [], 0, 0, undefined]);
});

/** A host whose engine is never asked: composeRentals talks to no engine before start(). */
function host(name: string, sshPorts: string, dir: string): HostSetup {
  return {
    name, docker: new Dockerode({ socketPath: join(dir, `${name}-no-engine.sock`) }), endpoint: `unix://${name}`, localEngine: false,
    sshBind: '127.0.0.1', sshPorts: parsePortPool(sshPorts, 'test'), renterPortPool: null,
  };
}

test('composeRentals: older records (the data dir\'s and each pool slot\'s) are adopted into the ledger; the old files go', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleet-compose-'));
  try {
    allocationStore(dataDir).write(oldRecord());
    const slot = join(dataDir, 'slots', 'gpu-a', '4445');
    allocationStore(slot).write(oldRecord({ id: 'fedcba9876543210', port: 4445, containerName: 'x-gpu-a-p4445-ssh-container', role: 'ssh-test-container' }));
    mkdirSync(join(slot, 'build'));
    // Something of the operator's in a slot dir is kept, and the dir with it.
    const kept = join(dataDir, 'slots', 'gpu-a', '4446');
    allocationStore(kept).write(oldRecord({ id: 'aaaaaaaaaaaaaaaa', port: 4446 }));
    writeFileSync(join(kept, 'notes.txt'), 'mine\n');
    // A record that does not parse is not adopted, and left where it is.
    const broken = join(dataDir, 'slots', 'gpu-a', '4447');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, RECORD_FILE), '{"version": 1}\n');

    const service = composeRentals({
      common: { minerHotkey: 'owner', log: silentLogger() }, dataDir, namePrefix: 'x-', renterPorts: 0, log: silentLogger(),
      hosts: [host('local', '4444', dataDir), host('gpu-a', '4445-4447', dataDir)],
    });
    const byId = new Map(service.ledger.all().map((r) => [r.id, r]));
    assert.equal([...byId.keys()].sort(), ['0123456789abcdef', 'aaaaaaaaaaaaaaaa', 'fedcba9876543210']);
    assert.equal([byId.get('0123456789abcdef')!.host, byId.get('0123456789abcdef')!.grant.sshPort], ['local', 4444], 'the data dir\'s record is the first host\'s');
    assert.equal([byId.get('fedcba9876543210')!.host, byId.get('fedcba9876543210')!.grant.sshPort, byId.get('fedcba9876543210')!.role], ['gpu-a', 4445, 'test']);
    assert.equal(byId.get('fedcba9876543210')!.workload!.name, 'x-gpu-a-p4445-ssh-container', 'its container is found by its old name');
    // In the ledger on disk, as a v2 record each.
    for (const id of byId.keys()) {
      const onDisk = rentalSchema.parse(JSON.parse(readFileSync(join(dataDir, LEDGER_DIR, `${id}.json`), 'utf8')));
      assert.equal(onDisk, byId.get(id));
    }
    assert.not.ok(existsSync(join(dataDir, RECORD_FILE)));
    assert.not.ok(existsSync(join(dataDir, HOLDER_KEY_FILE)));
    assert.not.ok(existsSync(slot), 'an adopted slot dir goes, its build dir with it');
    assert.not.ok(existsSync(join(kept, RECORD_FILE)));
    assert.ok(existsSync(join(kept, 'notes.txt')), 'the operator\'s file stays');
    assert.ok(existsSync(join(broken, RECORD_FILE)), 'an unreadable record stays for the operator');
    // One service over both hosts: the reply's port is the first host's first SSH port.
    assert.is(service.sshPort, 4444);
    assert.equal(service.views.all().map((v) => [v.host.name, v.host.sshPorts.ports]), [['local', [4444]], ['gpu-a', [4445, 4446, 4447]]]);

    // Composed again (the next start): nothing is adopted twice, the ledger stays as it is.
    const again = composeRentals({
      common: { minerHotkey: 'owner', log: silentLogger() }, dataDir, namePrefix: 'x-', renterPorts: 0, log: silentLogger(),
      hosts: [host('local', '4444', dataDir), host('gpu-a', '4445-4447', dataDir)],
    });
    assert.equal(again.ledger.all(), []);
    assert.equal(again.ledger.load(), { loaded: 3, unreadable: [] });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('composeRentals: no host is no service', () => {
  assert.throws(() => composeRentals({ common: { minerHotkey: 'o', log: silentLogger() }, dataDir: '/nonexistent', namePrefix: '', renterPorts: 0, hosts: [], log: silentLogger() }), /no host to rent on/);
});

test('engineSpecs: a remote host in the Specs shapes from what its engine says; nothing for a host never read', () => {
  // Memory is committed capacity: all of it is what rentals are placed against.
  const specs = engineSpecs({ cpuCount: 8, memoryBytes: 32 * GiB, diskBytes: null, diskFreeBytes: null, gpuCount: 0, storage: { enforced: true } });
  assert.equal(specs, {
    cpu: { count: 8, frequency: 0, vendor: '', model: '' },
    gpu: { count: 0, capacity: 0, details: [] },
    hard_disk: { total: 0, free: 0, used: 0 },
    ram: { total: 32 * GiB, available: 32 * GiB, used: 0, free: 32 * GiB },
    docker: { available: true, version: '' },
  });
  assert.is(engineSpecs(null), null);
  const local = engineSpecs({ cpuCount: 2, memoryBytes: 2 * GiB, diskBytes: 10 * GiB, diskFreeBytes: 3 * GiB, gpuCount: 1, storage: { enforced: true } });
  assert.equal(local!.hard_disk, { total: 10 * GiB, free: 3 * GiB, used: 7 * GiB });
  assert.is(local!.gpu.count, 1);
  // Free space is never more than the pool.
  assert.equal(engineSpecs({ cpuCount: 2, memoryBytes: GiB, diskBytes: 10 * GiB, diskFreeBytes: 12 * GiB, gpuCount: 0, storage: { enforced: true } })!.hard_disk, { total: 10 * GiB, free: 10 * GiB, used: 0 });
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
