// Many rentals on two real Docker hosts behind one rental service: the rental daemon on its unix socket
// and a private dockerd reached over tcp://127.0.0.1 with mutual TLS (certificates made with
// openssl). Rentals spread over both, one 1-core rental per core and no more, each with its own
// SSH port and renter port; one rental per holder; a test rental gives way to production; the
// Allocate reply carries `host` and `ports`; a host killed under its rental answers for itself
// while the other keeps renting, and its rental comes back (same container, files kept).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { constants, privateDecrypt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { allocateRequestSchema, parseWith } from '../protocol/index.js';
import type { RequestContext } from '../src/axon/synapse.js';
import { composeRentals, type HostSetup } from '../src/fleet/compose.js';
import { engineClient } from '../src/fleet/engine.js';
import type { AllocationResult, RentalService } from '../src/rentals/service.js';
import { parseHostsText } from '../src/fleet/hosts-file.js';
import { parsePortPool } from '../src/resources/ports.js';
import { fleetSpecsSource } from '../src/fleet/specs-source.js';
import { allocatePlugin } from '../src/handlers/allocate.js';
import { silentLogger } from '../src/log.js';
import { freePorts, removeLabelled, renterKeys, requireDocker, RUN_LABEL, sshRun, testRun, type TestRun } from './helpers/docker.js';
import { startTlsDockerd, type TlsDockerd } from './helpers/tls-dockerd.js';
import { until } from './helpers/wait.js';
import type Dockerode from 'dockerode';
import { Registry } from 'prom-client';
import { registerFleetMetrics } from '../src/fleet/metrics.js';

const MiB = 1024 * 1024;
const device = (over: { testing?: boolean } = {}) => ({ cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 512 * MiB }, gpu: {}, testing: false, ...over });

interface Ctx {
  local: Dockerode;
  remote: TlsDockerd;
  remoteDir: string;
  run: TestRun;
  fleet: RentalService;
  held: { pem: string; result: AllocationResult & { status: true } }[];
  hosts: HostSetup[];
}
const fleetSuite = suite<Ctx>('rentals on two hosts');

const ports = async (n: number): Promise<string> => (await freePorts(n)).join(',');

fleetSuite.before(async (ctx) => {
  ctx.local = await requireDocker();
  ctx.run = testRun(ctx.local, 'fleet');
  ctx.held = [];
  ctx.remoteDir = mkdtempSync(join(tmpdir(), 'cm-fleet-tls-'));
  ctx.remote = await startTlsDockerd(ctx.remoteDir, `f${randomBytes(3).toString('hex')}`);
  // The remote host as an operator writes it: mutual TLS with the files openssl made.
  const [entry] = parseHostsText(JSON.stringify({ hosts: [{
    name: 'b', engine: ctx.remote.engine, tls: { ca: ctx.remote.tls.ca, cert: ctx.remote.tls.clientCert, key: ctx.remote.tls.clientKey },
    address: '127.0.0.1', ssh_bind: '127.0.0.1', ssh_ports: await ports(3), renter_ports: await ports(3),
  }] }), { source: 'hosts.json', baseDir: ctx.remoteDir });
  const hosts: HostSetup[] = [
    {
      name: 'a', docker: ctx.local, endpoint: 'unix:///run/compute-miner/docker.sock', localEngine: true, sshBind: '127.0.0.1',
      sshPorts: parsePortPool(await ports(3), 'a'), renterPortPool: parsePortPool(await ports(3), 'a renter'),
    },
    {
      name: 'b', docker: engineClient(entry!), transfer: engineClient(entry!, { connectTimeoutMs: 0 }), endpoint: entry!.engineText, localEngine: false, address: entry!.address,
      sshBind: entry!.sshBind, sshPorts: entry!.sshPorts, renterPortPool: entry!.renterPorts,
    },
  ];
  ctx.hosts = hosts;
  ctx.fleet = compose(ctx);
  assert.equal(ctx.fleet.views.all().map((v) => v.host.name), ['a', 'b'], 'one service over both hosts');
  await ctx.fleet.start();
  await ctx.fleet.baseImageReady();
  // The second host's base image arrives by save and load from the first (its runtime's ensureBase).
  await until('both hosts up with the base image', async () => ctx.fleet.state().hosts.every((h) => h.up && h.baseImage === 'ready'), 240_000, 250);
  await until('the service rents', async () => (await ctx.fleet.checkFree(device())).status, 30_000, 250);
});

/** The rental service over both hosts, as the miner composes it from a hosts file. */
function compose(ctx: Ctx): RentalService {
  return composeRentals({
    common: { minerHotkey: ctx.run.hotkey.ss58Address, log: silentLogger() }, defaultDiskBytes: 512 * MiB,
    // The test machine is shared and often loaded far past its cores: an engine's ping may take
    // longer than the product's 1.5 s there. A killed engine is refused at once, bound or not.
    answerBoundMs: 10_000,
    dataDir: ctx.run.dataDir, namePrefix: ctx.run.namePrefix, labels: ctx.run.labels, hosts: ctx.hosts, renterPorts: 1, log: silentLogger(),
  });
}

/** The run's containers on both hosts that hold a rental of the ledger (warm containers waiting for one are not). */
async function rentalContainers(ctx: Ctx, dockers: Dockerode[] = [ctx.local, ctx.remote.docker]): Promise<Dockerode.ContainerInfo[]> {
  const held = new Set(ctx.fleet.ledger.all().map((r) => r.workload?.container).filter(Boolean));
  const all = await Promise.all(dockers.map((d) => d.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${ctx.run.id}`] } })));
  return all.flat().filter((c) => held.has(c.Id));
}

// Every test starts on an empty fleet, also after a failure.
fleetSuite.after.each(async (ctx) => {
  for (const { pem } of ctx.held.splice(0)) await ctx.fleet.deallocate(pem).catch(() => undefined);
});

fleetSuite.after(async (ctx) => {
  for (const { pem } of ctx.held ?? []) await ctx.fleet?.deallocate(pem).catch(() => undefined);
  await ctx.fleet?.stop().catch(() => undefined);
  if (ctx.local && ctx.run) await ctx.run.cleanup();
  if (ctx.remote) {
    await removeLabelled(ctx.remote.docker, `${RUN_LABEL}=${ctx.run.id}`).catch(() => undefined);
    await ctx.remote.destroy();
  }
  if (ctx.remoteDir) rmSync(ctx.remoteDir, { recursive: true, force: true });
});

function requestContext(): RequestContext {
  return { hotkey: '5validator', stake: 0, deadline: Date.now() + 120_000, signal: new AbortController().signal, receivedAt: Date.now(), log: silentLogger() };
}

async function rent(ctx: Ctx, over: { testing?: boolean } = {}): Promise<{ pem: string; privateKeyPem: string; result: AllocationResult }> {
  const keys = renterKeys();
  const result = await ctx.fleet.allocate({ timelineDays: 1, device: device(over), publicKeyPem: keys.publicKeyPem, sshKey: '', dockerfile: '' });
  if (result.status) ctx.held.push({ pem: keys.publicKeyPem, result });
  return { pem: keys.publicKeyPem, privateKeyPem: keys.privateKeyPem, result };
}

/** Why an allocate was refused, for an assertion's message. */
const why = (result: AllocationResult): string => (result.status ? 'granted' : result.error);

/** The SSH port of a holder's rental, as the service granted it. */
const portOf = (ctx: Ctx, pem: string) => ctx.held.find((h) => h.pem === pem)?.result.port;

async function release(ctx: Ctx, pem: string): Promise<void> {
  // A holder's answer names its own rental's port (read before the rental ends), not the first host's first port.
  assert.is(ctx.fleet.holderPort(pem), portOf(ctx, pem));
  assert.equal(await ctx.fleet.deallocate(pem), { status: true });
  assert.is(ctx.fleet.holderPort(pem), undefined, 'released');
  ctx.held = ctx.held.filter((h) => h.pem !== pem);
}

fleetSuite('one 1-core rental per core of both hosts and no more: own SSH and renter ports, disjoint cores, one rental per holder', async (ctx) => {
  const cores = (await ctx.local.info()).NCPU + (await ctx.remote.docker.info()).NCPU;
  // Two more at once than there are cores: exactly one per core wins, the rest are told why.
  const rentals = await Promise.all(Array.from({ length: cores + 2 }, () => rent(ctx)));
  const losers = rentals.filter((r) => !r.result.status);
  assert.is(losers.length, 2, `exactly one rental per core: ${JSON.stringify(losers.map((l) => (l.result as { error: string }).error))}`);
  for (const l of losers) assert.match((l.result as { error: string }).error, /^insufficient CPU/);
  const granted = rentals.filter((r) => r.result.status).map((r) => r.result as AllocationResult & { status: true });
  const sshPorts = granted.map((g) => g.port);
  assert.is(new Set(sshPorts).size, cores, 'every rental its own SSH port');
  const renterPorts = granted.map((g) => g.ports['20000']);
  assert.ok(renterPorts.every((p) => typeof p === 'number'));
  assert.is(new Set(renterPorts).size, cores, 'every rental its own renter port');
  assert.is(granted.filter((g) => g.host === '127.0.0.1').length, (await ctx.remote.docker.info()).NCPU, 'the remote host\'s rentals say where to connect');
  assert.is(granted.filter((g) => g.host === undefined).length, (await ctx.local.info()).NCPU);

  const over = await rent(ctx);
  assert.is(over.result.status, false);
  assert.match((over.result as { error: string }).error, /^insufficient CPU/);
  assert.equal(await ctx.fleet.checkFree(device()), { status: false, error: (over.result as { error: string }).error });

  // Each rental is what it says: one core, its own, reached on its own port.
  const seen = new Map<string, Set<string>>();
  for (const g of granted) {
    const out = (await sshRun(g.port, { password: g.credentials.password }, "nproc; sed -n 's/^Cpus_allowed_list:\\s*//p' /proc/self/status")).trim().split('\n');
    assert.is(out[0], '1');
    const host = g.host ?? 'local';
    const set = seen.get(host) ?? new Set<string>();
    assert.not.ok(set.has(out[1]!), `core ${out[1]} given twice on ${host}`);
    set.add(out[1]!);
    seen.set(host, set);
  }
  // The renter's own port reaches a service inside the rental, on each host.
  for (const g of [granted.find((x) => x.host === undefined)!, granted.find((x) => x.host !== undefined)!]) {
    await sshRun(g.port, { password: g.credentials.password }, 'nohup python3 -m http.server 20000 --bind 0.0.0.0 >/dev/null 2>&1 & sleep 0.5; echo started');
    await until('the renter port answers', async () => (await fetch(`http://127.0.0.1:${g.ports['20000']}/`).then((r) => r.status, () => 0)) === 200, 10_000);
  }

  // A holder's action touches only its own rental.
  const [paused, ...others] = ctx.held;
  assert.equal(await ctx.fleet.pause(paused!.pem), { status: true });
  assert.is(ctx.fleet.holderPort(paused!.pem), paused!.result.port);
  for (const o of others) {
    assert.equal(await ctx.fleet.checkHolder(o.pem), { status: true });
    assert.is(ctx.fleet.holderPort(o.pem), o.result.port, 'each holder\'s reply names its own port');
  }
  const states = async () => (await rentalContainers(ctx)).map((c) => c.State).sort();
  assert.equal(await states(), ['paused', ...others.map(() => 'running')], 'only its own container is paused');
  assert.equal(await ctx.fleet.unpause(paused!.pem), { status: true });

  // A holder has one rental: a second allocate with the same key is refused and changes nothing.
  const first = ctx.held[0]!;
  const again = await ctx.fleet.allocate({ timelineDays: 1, device: device(), publicKeyPem: first.pem, sshKey: '', dockerfile: '' });
  assert.is(again.status, false);
  assert.match((again as { error: string }).error, /already allocated: this public_key holds a rental/);
  for (const h of [...ctx.held]) await release(ctx, h.pem);
  assert.equal(await ctx.fleet.checkFree(device()), { status: true });
});

fleetSuite('two allocates of one key at once: one rental, the other refused while the first is still being made', async (ctx) => {
  const keys = renterKeys();
  const ask = () => ctx.fleet.allocate({ timelineDays: 1, device: device(), publicKeyPem: keys.publicKeyPem, sshKey: '', dockerfile: '' });
  const results = await Promise.all([ask(), ask()]);
  for (const r of results) if (r.status) ctx.held.push({ pem: keys.publicKeyPem, result: r });
  assert.is(results.filter((r) => r.status).length, 1, JSON.stringify(results.map((r) => (r.status ? 'granted' : r.error))));
  assert.match((results.find((r) => !r.status) as { error: string }).error, /already allocated: this public_key holds a rental/);
});

fleetSuite('a new service over the same data dir (the miner started again) finds every rental on both hosts', async (ctx) => {
  const local = await rent(ctx);
  const localCores = (await ctx.local.info()).NCPU;
  for (let i = 1; i < localCores; i++) { const r = await rent(ctx); assert.ok(r.result.status, why(r.result)); }
  const remote = await rent(ctx);
  assert.ok(local.result.status && remote.result.status, `${why(local.result)}; ${why(remote.result)}`);
  assert.is((remote.result as { host?: string }).host, '127.0.0.1');
  await ctx.fleet.stop();
  ctx.fleet = compose(ctx);
  await ctx.fleet.start();
  for (const h of ctx.held) {
    assert.equal(await ctx.fleet.checkHolder(h.pem), { status: true }, 'restored');
    assert.is(ctx.fleet.holderPort(h.pem), h.result.port, 'on its own port');
  }
  assert.equal(ctx.fleet.state().hosts.map((h) => [h.name, h.rentals]), [['a', localCores], ['b', 1]], 'each rental on its host');
  const g = remote.result as AllocationResult & { status: true };
  assert.is((await sshRun(g.port, { password: g.credentials.password }, 'echo back')).trim(), 'back');
});

fleetSuite('a production rental that fits nowhere ends test rentals to make room; a test rental never does', async (ctx) => {
  const cores = (await ctx.local.info()).NCPU + (await ctx.remote.docker.info()).NCPU;
  const tests = await Promise.all(Array.from({ length: cores }, () => rent(ctx, { testing: true })));
  for (const t of tests) assert.ok(t.result.status, why(t.result));
  const anotherTest = await rent(ctx, { testing: true });
  assert.is(anotherTest.result.status, false, 'a test rental never ends another');
  const production = await rent(ctx);
  assert.ok(production.result.status, `production ends a test rental: ${why(production.result)}`);
  const ended: typeof tests = [];
  for (const t of tests) if ((await ctx.fleet.checkHolder(t.pem)).status === false) ended.push(t);
  assert.is(ended.length, 1, 'exactly one test rental gave way');
  ctx.held = ctx.held.filter((h) => h.pem !== ended[0]!.pem);
  for (const h of [...ctx.held]) await release(ctx, h.pem);
});

fleetSuite('the Allocate reply carries host and ports beside info; Specs reports the hosts together, each host and its free room', async (ctx) => {
  const keys = renterKeys();
  // Fill the local host first: best fit then puts the next rental where it fits, the remote host.
  const localCores = (await ctx.local.info()).NCPU;
  const fillers = await Promise.all(Array.from({ length: localCores }, () => rent(ctx)));
  const onLocal = fillers.filter((f) => f.result.status && (f.result as { host?: string }).host === undefined).length;
  assert.is(onLocal, localCores, 'best fit fills the local host first');
  const parsed = parseWith(allocateRequestSchema, {
    timeline: 1, checking: false, docker_change: false, public_key: keys.publicKeyPem,
    device_requirement: device(), docker_requirement: { base_image: '', ssh_key: '', volume_path: '/tmp', dockerfile: '' },
  });
  if (!parsed.ok) throw new Error(parsed.message);
  const reply = await allocatePlugin(ctx.fleet).forward(parsed.value, requestContext());
  const out = reply.output as { status: boolean; info?: string; port: number; host?: string; ports?: Record<string, number>; host_keys?: string[] };
  assert.ok(out.status);
  ctx.held.push({ pem: keys.publicKeyPem, result: { status: true, port: out.port } as never });
  const credentials = JSON.parse(privateDecrypt({ key: keys.privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(out.info!, 'base64')).toString('utf8'));
  assert.is(credentials.port, out.port, 'the credentials name the rental\'s own port');
  assert.is(out.host, '127.0.0.1');
  assert.ok(out.ports && typeof out.ports['20000'] === 'number');
  assert.is((await sshRun(out.port, { password: credentials.password }, 'echo in')).trim(), 'in');

  const specs = await fleetSpecsSource(ctx.fleet, null, 0).read();
  assert.equal(specs.hosts.map((h) => [h.name, h.up]), [['a', true], ['b', true]]);
  assert.is(specs.cpu.count, localCores + (await ctx.remote.docker.info()).NCPU);
  const rented = localCores + 1;
  assert.is(specs.hosts[0]!.free.cpu.count + specs.hosts[1]!.free.cpu.count, specs.cpu.count - rented, 'free cores are the cores not rented');
  assert.is(specs.free.cpu.count, Math.max(specs.hosts[0]!.free.cpu.count, specs.hosts[1]!.free.cpu.count));
  for (const h of [...ctx.held]) await release(ctx, h.pem);
});

fleetSuite('a host killed under its rental answers for itself, the other keeps renting; back, its rental runs again with its files', async (ctx) => {
  // Fill the local host so the next rental lands on the remote one.
  const localCores = (await ctx.local.info()).NCPU;
  for (let i = 0; i < localCores; i++) { const r = await rent(ctx); assert.ok(r.result.status, why(r.result)); }
  const remote = await rent(ctx);
  assert.ok(remote.result.status, why(remote.result));
  const granted = remote.result as AllocationResult & { status: true };
  assert.is(granted.host, '127.0.0.1');
  await sshRun(granted.port, { password: granted.credentials.password }, 'echo kept > /root/marker');

  const rentalBefore = (await rentalContainers(ctx, [ctx.remote.docker])).map((c) => c.Id);
  assert.is(rentalBefore.length, 1);
  await ctx.remote.kill();
  const check = await ctx.fleet.checkHolder(remote.pem);
  assert.is(check.status, false);
  assert.match(check.error!, /^host b is not answering: /);
  // The hosts' views are read again in the background (every 2 s, each within its 1.5 s bound).
  await until('host b seen down', async () => ctx.fleet.state().hosts.find((h) => h.name === 'b')?.up === false, 10_000, 100);
  const specs = await fleetSpecsSource(ctx.fleet, null, 0).read();
  assert.equal(specs.hosts.map((h) => [h.name, h.up]), [['a', true], ['b', false]]);
  assert.equal(ctx.fleet.state().hosts.map((h) => [h.name, h.up]), [['a', true], ['b', false]]);
  const registry = new Registry();
  registerFleetMetrics(registry, ctx.fleet);
  const metrics = await registry.metrics();
  assert.match(metrics, /miner_host_up\{host="a"\} 1/);
  assert.match(metrics, /miner_host_up\{host="b"\} 0/);
  assert.match(metrics, /miner_host_rentals\{host="b"\} 1/);
  // The local host still rents (one of its rentals released, another taken).
  await release(ctx, ctx.held[0]!.pem);
  const meanwhile = await rent(ctx);
  assert.ok(meanwhile.result.status, `the other host keeps renting: ${why(meanwhile.result)}`);
  assert.is((meanwhile.result as { host?: string }).host, undefined);

  await ctx.remote.restart();
  await until('the remote rental runs again', async () => (await ctx.fleet.checkHolder(remote.pem)).status, 60_000);
  const rentalAfter = (await rentalContainers(ctx, [ctx.remote.docker])).map((c) => c.Id);
  assert.equal(rentalAfter, rentalBefore, 'the same container');
  await until('its files kept', async () => (await sshRun(granted.port, { password: granted.credentials.password }, 'cat /root/marker').catch(() => '')).trim() === 'kept', 30_000);
  for (const h of [...ctx.held]) await release(ctx, h.pem);
});

fleetSuite.run();
