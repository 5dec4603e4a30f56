// The rental service's decisions on the in-memory runtime: rentals are independent (one
// rental's slow work stalls no one), a host that does not answer answers for itself, the ledger
// (not the port pool) says what exists, concurrent allocations get exactly the free cores, test
// rentals give way, warm workloads serve back-to-back rentals, expiry and reconcile by the ledger.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/log.js';
import { allocationStore } from '../src/containers/store.js';
import { createLedger } from '../src/rentals/ledger.js';
import { adoptLegacyRecords } from '../src/rentals/legacy.js';
import { createRentalService, type AllocationRequest, type RentalService } from '../src/rentals/service.js';
import { parsePortPool } from '../src/resources/ports.js';
import { memoryRuntime, type MemoryRuntime } from './helpers/memory-runtime.js';

const GiB = 1024 ** 3;
const dirs: string[] = [];
const services: RentalService[] = [];

function key(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
const keys = Array.from({ length: 8 }, key);

function service(runtime: MemoryRuntime, ports: string, over: { dataDir?: string; warm?: number; boundMs?: number; defaultDiskBytes?: number } = {}): RentalService {
  const dataDir = over.dataDir ?? mkdtempSync(join(tmpdir(), 'cm-rentals-'));
  if (!over.dataDir) dirs.push(dataDir);
  const s = createRentalService({
    hosts: [{ name: runtime.host, endpoint: 'memory://', runtime, sshPorts: parsePortPool(ports, 'ports'), renterPorts: null }],
    ledger: createLedger(dataDir), log: silentLogger(), renterPortsPerRental: 0, defaultDiskBytes: over.defaultDiskBytes ?? GiB,
    warmPerHost: over.warm ?? 0, answerBoundMs: over.boundMs ?? 300, freshMs: 0, recheckMs: 60_000,
  });
  services.push(s);
  return s;
}

const request = (publicKeyPem: string, over: Partial<AllocationRequest['device']> = {}, days = 1): AllocationRequest => ({
  timelineDays: days, publicKeyPem, sshKey: '', dockerfile: '',
  device: { cpu: { count: 1 }, ram: { capacity: GiB }, hard_disk: { capacity: GiB }, gpu: {}, testing: false, ...over },
});

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await work;
  return { value, ms: performance.now() - t };
}

test.after(async () => {
  for (const s of services) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('one rental\'s slow build stalls no one: check-free, holder checks and another rental answer at once', async () => {
  const runtime = memoryRuntime({ cpuCount: 2 });
  const s = service(runtime, '14444-14447');
  await s.start();
  let release!: () => void;
  runtime.gate = new Promise((r) => { release = r; });
  const slow = s.allocate(request(keys[0]!));
  await new Promise((r) => setImmediate(r));
  const free = await timed(s.checkFree(request(keys[1]!).device));
  assert.equal(free.value, { status: true }, 'one core is still free');
  assert.ok(free.ms < 100, `check-free took ${free.ms} ms`);
  assert.equal(await s.checkHolder(keys[0]!), { status: false, error: 'the rental is still being made' });
  // Another rental waits for nothing of A's: its create is gated too, so release both and compare grants.
  const other = s.allocate(request(keys[1]!));
  await new Promise((r) => setImmediate(r));
  assert.is(runtime.calls.filter((c) => c.startsWith('create')).length, 2, 'both creates started side by side');
  release();
  runtime.gate = null;
  const [a, b] = await Promise.all([slow, other]);
  assert.ok(a.status && b.status);
  if (a.status && b.status) assert.is.not(a.port, b.port);
  const cpusets = s.ledger.all().map((r) => r.grant.cpuset).sort();
  assert.equal(cpusets, ['0', '1']);
});

test('concurrent allocations on k free cores give exactly k grants', async () => {
  const runtime = memoryRuntime({ cpuCount: 2 });
  const s = service(runtime, '14444-14451');
  await s.start();
  const results = await Promise.all(keys.map((k) => s.allocate(request(k))));
  assert.is(results.filter((r) => r.status).length, 2);
  for (const r of results.filter((r) => !r.status)) assert.match(r.status ? '' : r.error, /insufficient CPU/);
  assert.is(s.ledger.all().length, 2);
});

test('a request that names no disk gets the default, or its cores\' share of a small pool', async () => {
  const small = service(memoryRuntime({ cpuCount: 2, diskBytes: 4 * GiB }), '14444-14447', { defaultDiskBytes: 10 * GiB });
  await small.start();
  const one = await small.allocate(request(keys[0]!, { hard_disk: { capacity: 0 } }));
  assert.ok(one.status, one.status ? '' : one.error);
  assert.is(small.ledger.all()[0]!.grant.diskBytes, 2 * GiB);
  const named = await small.allocate(request(keys[1]!, { hard_disk: { capacity: GiB } }));
  assert.ok(named.status);
  assert.equal(small.ledger.all().map((r) => r.grant.diskBytes).sort((a, b) => a - b), [GiB, 2 * GiB], 'a named size is kept as asked');
  const large = service(memoryRuntime({ cpuCount: 2, diskBytes: 100 * GiB }), '14448-14450', { defaultDiskBytes: 10 * GiB });
  await large.start();
  assert.ok((await large.allocate(request(keys[2]!, { hard_disk: { capacity: 0 } }))).status);
  assert.is(large.ledger.all()[0]!.grant.diskBytes, 10 * GiB);
});

test('the same key allocating twice at once gets one rental', async () => {
  const s = service(memoryRuntime({ cpuCount: 2 }), '14444-14447');
  await s.start();
  const results = await Promise.all([s.allocate(request(keys[0]!)), s.allocate(request(keys[0]!))]);
  assert.is(results.filter((r) => r.status).length, 1);
  assert.match(results.find((r) => !r.status)!.status ? '' : (results.find((r) => !r.status) as { error: string }).error, /holds a rental/);
});

test('a host whose engine does not answer answers for itself within the bound', async () => {
  const runtime = memoryRuntime({ cpuCount: 2 });
  const s = service(runtime, '14444-14447', { boundMs: 300 });
  await s.start();
  const granted = await s.allocate(request(keys[0]!));
  assert.ok(granted.status);
  runtime.frozen = true;
  const holder = await timed(s.checkHolder(keys[0]!));
  assert.ok(holder.ms < 1000, `holder check took ${holder.ms} ms`);
  assert.is(holder.value.status, false);
  assert.match(holder.value.error ?? '', /^host local is not answering/);
  const free = await timed(s.checkFree(request(keys[1]!).device));
  assert.ok(free.ms < 1000, `check-free took ${free.ms} ms`);
  assert.equal(free.value.status, false);
  assert.match(free.value.error ?? '', /no host is up/);
  const refused = await timed(s.allocate(request(keys[1]!)));
  assert.ok(refused.ms < 1000);
  assert.is(refused.value.status, false);
  assert.is(s.state().hosts[0]!.up, false);
  runtime.frozen = false;
  assert.equal(await s.checkHolder(keys[0]!), { status: true });
  const after = await s.allocate(request(keys[1]!));
  assert.ok(after.status, 'granted once the engine answers again');
});

test('the ledger, not the port pool, says what exists: a restart with a smaller pool keeps every rental and its cores', async () => {
  const runtime = memoryRuntime({ cpuCount: 2 });
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-rentals-'));
  dirs.push(dataDir);
  const first = service(runtime, '14444-14447', { dataDir });
  await first.start();
  const a = await first.allocate(request(keys[0]!));
  const b = await first.allocate(request(keys[1]!));
  assert.ok(a.status && b.status);
  await first.stop();
  const second = service(runtime, '14444', { dataDir });
  await second.start();
  assert.equal(await second.checkHolder(keys[0]!), { status: true });
  assert.equal(await second.checkHolder(keys[1]!), { status: true });
  assert.equal(second.holderPort(keys[1]!), b.status ? b.port : -1);
  const third = await second.allocate(request(keys[2]!));
  assert.is(third.status, false, 'both cores are held');
  assert.equal(second.state().hosts[0]!.outsidePool, [14445]);
  assert.equal(await second.pause(keys[1]!), { status: true });
  assert.equal(await second.deallocate(keys[1]!), { status: true });
  assert.equal(await second.deallocate(keys[0]!), { status: true });
  assert.is(runtime.workloads.size, 0);
});

test('a production rental ends test rentals for their room; a test rental never ends another', async () => {
  const runtime = memoryRuntime({ cpuCount: 2 });
  const s = service(runtime, '14444-14447');
  await s.start();
  const t1 = await s.allocate(request(keys[0]!, { testing: true }));
  const t2 = await s.allocate(request(keys[1]!, { testing: true }));
  assert.ok(t1.status && t2.status);
  const t3 = await s.allocate(request(keys[2]!, { testing: true }));
  assert.is(t3.status, false);
  const prod = await s.allocate(request(keys[3]!));
  assert.ok(prod.status);
  assert.is(s.ledger.all().length, 2, 'one test rental ended, the other kept');
  assert.is(s.ledger.all().filter((r) => r.role === 'test').length, 1);
});

test('on one SSH port, a production rental takes the port of a test rental, which gives way; a test rental does not', async () => {
  for (const warm of [0, 1]) {
    const runtime = memoryRuntime({ cpuCount: 2 });
    const s = service(runtime, '40000', { warm });
    await s.start();
    await new Promise((r) => setTimeout(r, 10));
    const t = await s.allocate(request(keys[0]!, { testing: true }));
    assert.ok(t.status, t.status ? '' : t.error);
    const t2 = await s.allocate(request(keys[1]!, { testing: true }));
    assert.is(t2.status, false, 'a test rental never ends another');
    assert.equal(await s.checkFree(request(keys[2]!).device), { status: true }, 'the test rental counts as room');
    const prod = await s.allocate(request(keys[2]!));
    assert.ok(prod.status, prod.status ? '' : prod.error);
    if (prod.status) assert.is(prod.port, 40000);
    assert.equal(s.ledger.all().map((r) => r.role), ['rental']);
    assert.equal(await s.checkHolder(keys[0]!), { status: false, error: 'permission denied: public_key is not the holder of this allocation' });
    await s.stop();
  }
});

test('warm workloads serve back-to-back rentals and are refilled; one is evicted for a rental that cannot use it', async () => {
  const runtime = memoryRuntime({ cpuCount: 2 });
  const s = service(runtime, '14444-14445', { warm: 1 });
  await s.start();
  await new Promise((r) => setTimeout(r, 10));
  assert.is(runtime.warm.ready(), 1);
  for (let i = 0; i < 3; i++) {
    const r = await s.allocate(request(keys[0]!));
    assert.ok(r.status);
    assert.ok(runtime.calls.at(-1)?.endsWith(' warm') || runtime.calls.some((c) => c.endsWith(' warm')), 'claimed warm');
    assert.ok((await s.deallocate(keys[0]!)).status);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(runtime.calls.filter((c) => c.endsWith(' warm')).length >= 3, runtime.calls.join(', '));
  // Two ports: a rental holds one, the warm workload the other; a dockerfile rental takes the warm one's port.
  const held = await s.allocate(request(keys[1]!));
  assert.ok(held.status);
  await new Promise((r) => setTimeout(r, 10));
  const built = await s.allocate({ ...request(keys[2]!), dockerfile: 'true' });
  assert.ok(built.status, built.status ? '' : built.error);
  assert.ok(runtime.calls.some((c) => c.startsWith('evict')), runtime.calls.join(', '));
});

test('one expiry schedule ends rentals at their deadline', async () => {
  const runtime = memoryRuntime({ cpuCount: 2 });
  const s = service(runtime, '14444-14447');
  await s.start();
  const r = await s.allocate(request(keys[0]!, {}, 200 / 86_400_000));
  assert.ok(r.status);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.is(s.ledger.all().length, 0);
  assert.is(runtime.workloads.size, 0);
});

test('reconcile by labels: an orphan is removed, a rental whose container is gone is cleared, a stopped one started again', async () => {
  const runtime = memoryRuntime({ cpuCount: 2 });
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-rentals-'));
  dirs.push(dataDir);
  const first = service(runtime, '14444-14447', { dataDir });
  await first.start();
  const a = await first.allocate(request(keys[0]!));
  const b = await first.allocate(request(keys[1]!));
  assert.ok(a.status && b.status);
  await first.stop();
  const [ra, rb] = first.ledger.all();
  runtime.workloads.delete(ra!.workload!.container);
  runtime.workloads.get(rb!.workload!.container)!.state = 'exited';
  runtime.orphan('00aa00aa00aa00aa');
  const second = service(runtime, '14444-14447', { dataDir });
  await second.start();
  assert.equal(second.ledger.all().map((r) => r.id), [rb!.id]);
  assert.ok(runtime.calls.includes(`resume ${rb!.workload!.container}`));
  assert.ok(runtime.calls.includes('destroy c-00aa00aa00aa00aa'));
  assert.not.ok(existsSync(join(dataDir, 'rentals', `${ra!.id}.json`)));
});

test('records of the release with one record per SSH port are adopted: same id, container, port, deadline, keys', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-rentals-'));
  dirs.push(dataDir);
  const holderKey = Buffer.from(keys[0]!).toString('base64');
  const base = { version: 1 as const, holderKey, role: 'ssh-container' as const, image: 'ssh-image-base:latest', ownImage: false, cpuset: '1', createdAt: 1, deadline: Date.now() + 86_400_000, keys: { user: 'ssh-ed25519 AAAA x' }, memoryBytes: GiB, diskBytes: GiB };
  allocationStore(dataDir).write({ ...base, id: 'aaaaaaaaaaaaaaaa', containerId: 'c1', containerName: 'ssh-container', port: 14444 });
  allocationStore(join(dataDir, 'slots', 'local', '14445')).write({ ...base, id: 'bbbbbbbbbbbbbbbb', containerId: 'c2', containerName: 'local-p14445-ssh-container', port: 14445, cpuset: '0', role: 'ssh-test-container' });
  const ledger = createLedger(dataDir);
  const { adopted, problems } = adoptLegacyRecords(dataDir, 'local', ledger);
  assert.equal(problems, []);
  assert.equal(adopted.map((r) => [r.id, r.host, r.grant.sshPort, r.role, r.workload?.container]), [
    ['aaaaaaaaaaaaaaaa', 'local', 14444, 'rental', 'c1'],
    ['bbbbbbbbbbbbbbbb', 'local', 14445, 'test', 'c2'],
  ]);
  assert.not.ok(existsSync(join(dataDir, 'allocation.json')));
  assert.not.ok(existsSync(join(dataDir, 'allocation_key')));
  assert.not.ok(existsSync(join(dataDir, 'slots', 'local', '14445')));
  const reread = createLedger(dataDir);
  reread.load();
  assert.equal(reread.all().map((r) => r.deadline), [base.deadline, base.deadline]);
  assert.equal(readdirSync(join(dataDir, 'rentals')).sort(), ['aaaaaaaaaaaaaaaa.json', 'bbbbbbbbbbbbbbbb.json']);
});

test('an unreadable ledger record is set aside, never read as a rental', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-rentals-'));
  dirs.push(dataDir);
  const ledger = createLedger(dataDir);
  ledger.commit({
    version: 2, id: 'cccccccccccccccc', holderKey: 'eA==', role: 'rental', phase: 'live', host: 'local',
    grant: { cpuset: '0', gpus: [], sshPort: 14444, renterPorts: {}, memoryBytes: 0, diskBytes: 0 }, createdAt: 0, deadline: 1, hostKeys: [], keys: {},
  });
  rmSync(join(dataDir, 'rentals', 'cccccccccccccccc.json'));
  const bad = join(dataDir, 'rentals', 'dddddddddddddddd.json');
  writeFileSync(bad, '{"version": 2, "id": "dddd');
  const again = createLedger(dataDir);
  const { loaded, unreadable } = again.load();
  assert.is(loaded, 0);
  assert.is(unreadable.length, 1);
  assert.ok(existsSync(`${bad}.unreadable`));
});

test.run();
