// test-lane: alone (see scripts/run-tests.mjs)
// Rentals are independent, on the real rental daemon: while one renter's image build runs, other
// validators' questions are answered at once and another renter's rental is granted; with the
// daemon frozen (SIGSTOP) every question gets a domain answer within the bound, and after SIGCONT
// the rental logs in and new rentals are granted; a restart with a smaller SSH port pool keeps
// both rentals, their cores and their logins.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { rentalHostLayout } from '../src/host/rental-dockerd.js';
import type { AllocationRequest, RentalService } from '../src/rentals/service.js';
import { createRunRentals, freePorts, renterKeys, requireDocker, sshRun, testRun, type TestRun } from './helpers/docker.js';
import type Dockerode from 'dockerode';
import { until } from './helpers/wait.js';

const MiB = 1024 ** 2;

interface Ctx {
  docker: Dockerode;
  run: TestRun;
  ports: number[];
  services: RentalService[];
}

const independent = suite<Ctx>('rentals are independent');

// Each test its own run (names, labels, data dir, ports): one that fails leaves nothing to the next.
independent.before.each(async (ctx) => {
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'indep');
  ctx.ports = (await freePorts(4)).sort((x, y) => x - y);
  ctx.services = [];
});

independent.after.each(async (ctx) => {
  for (const s of ctx.services) await s.stop().catch(() => undefined);
  await ctx.run.cleanup();
});

async function started(ctx: Ctx, ports: number[], warm = 1): Promise<RentalService> {
  const s = createRunRentals(ctx.docker, ctx.run, ports, { warm, answerBoundMs: 2000 });
  ctx.services.push(s);
  await s.start();
  await s.baseImageReady();
  return s;
}

async function stopped(ctx: Ctx, s: RentalService): Promise<void> {
  await s.stop();
  ctx.services = ctx.services.filter((x) => x !== s);
}

const request = (publicKeyPem: string, over: Partial<AllocationRequest> = {}): AllocationRequest => ({
  timelineDays: 1, publicKeyPem, sshKey: '', dockerfile: '',
  device: { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 512 * MiB }, gpu: {}, testing: false },
  ...over,
});

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await work;
  return { value, ms: Math.round(performance.now() - t) };
}

independent('while one renter\'s build runs, check-free and a holder\'s check answer within 2 s and another rental is granted within 5 s', async (ctx) => {
  const s = await started(ctx, ctx.ports);
  const [a, b, c] = [renterKeys(), renterKeys(), renterKeys()];
  try {
    const first = await s.allocate(request(b.publicKeyPem));
    assert.ok(first.status, first.status ? '' : first.error);
    // A 2-core machine: B holds one core, A's build the other; C must wait for nothing of A's.
    const building = timed(s.allocate(request(a.publicKeyPem, { dockerfile: 'sleep 6' })));
    await new Promise((r) => setTimeout(r, 1500));
    const free = await timed(s.checkFree(request(c.publicKeyPem).device));
    assert.ok(free.ms < 2000, `check-free took ${free.ms} ms`);
    assert.is(free.value.status, false, 'both cores are held (B, and A being built)');
    const holder = await timed(s.checkHolder(b.publicKeyPem));
    assert.equal(holder.value, { status: true });
    assert.ok(holder.ms < 2000, `holder check took ${holder.ms} ms`);
    // B gives its core back; C's rental comes while A still builds.
    assert.equal(await s.deallocate(b.publicKeyPem), { status: true });
    const other = await timed(s.allocate(request(c.publicKeyPem)));
    assert.ok(other.value.status, other.value.status ? '' : other.value.error);
    assert.ok(other.ms < 5000, `another rental took ${other.ms} ms`);
    const built = await building;
    assert.ok(built.value.status, built.value.status ? '' : built.value.error);
    assert.ok(built.ms > 6_000, 'A waited for its own build');
    if (built.value.status) assert.is((await sshRun(built.value.port, { password: built.value.credentials.password }, 'nproc')).trim(), '1');
  } finally {
    for (const k of [a, b, c]) await s.deallocate(k.publicKeyPem).catch(() => undefined);
    await stopped(ctx, s);
  }
});

independent('rental daemon frozen: questions get domain answers within 3 s; after SIGCONT the rental logs in and new rentals are granted', async (ctx) => {
  const s = await started(ctx, ctx.ports, 0);
  const [a, b] = [renterKeys(), renterKeys()];
  const pid = Number(readFileSync(rentalHostLayout().pidfile, 'utf8').trim());
  assert.ok(pid > 1, 'the rental daemon\'s pid');
  const granted = await s.allocate(request(a.publicKeyPem));
  assert.ok(granted.status, granted.status ? '' : granted.error);
  if (!granted.status) return;
  // Bounded even if this test fails halfway: the daemon is never left frozen.
  const thaw = setTimeout(() => process.kill(pid, 'SIGCONT'), 20_000);
  try {
    process.kill(pid, 'SIGSTOP');
    const holder = await timed(s.checkHolder(a.publicKeyPem));
    assert.ok(holder.ms < 3000, `holder check took ${holder.ms} ms`);
    assert.is(holder.value.status, false);
    assert.match(holder.value.error ?? '', /^host local is not answering/);
    const free = await timed(s.checkFree(request(b.publicKeyPem).device));
    assert.ok(free.ms < 3000, `check-free took ${free.ms} ms`);
    assert.is(free.value.status, false);
    assert.match(free.value.error ?? '', /no host is up/);
    const refused = await timed(s.allocate(request(b.publicKeyPem)).catch((err: Error) => ({ status: false as const, error: err.message })));
    assert.ok(refused.ms < 20_000, `allocate took ${refused.ms} ms`);
    assert.is(refused.value.status, false);
  } finally {
    process.kill(pid, 'SIGCONT');
    clearTimeout(thaw);
  }
  try {
    assert.is((await sshRun(granted.port, { password: granted.credentials.password }, 'echo thawed')).trim(), 'thawed');
    // A thawed daemon works through what queued up while frozen: its first pings may miss the bound.
    await until('the holder\'s check to be true again', async () => (await s.checkHolder(a.publicKeyPem)).status, 15_000, 250);
    const next = await s.allocate(request(b.publicKeyPem));
    assert.ok(next.status, next.status ? '' : next.error);
  } finally {
    for (const k of [a, b]) await s.deallocate(k.publicKeyPem).catch(() => undefined);
    await stopped(ctx, s);
  }
});

independent('a restart with only the first SSH port keeps both rentals, their cores and their logins', async (ctx) => {
  const [a, b, c] = [renterKeys(), renterKeys(), renterKeys()];
  const before = await started(ctx, ctx.ports, 0);
  const ra = await before.allocate(request(a.publicKeyPem));
  const rb = await before.allocate(request(b.publicKeyPem));
  assert.ok(ra.status, ra.status ? '' : ra.error);
  assert.ok(rb.status, rb.status ? '' : rb.error);
  if (!ra.status || !rb.status) return;
  await stopped(ctx, before);
  const after = await started(ctx, [ctx.ports[0]!], 0);
  try {
    assert.equal(await after.checkHolder(a.publicKeyPem), { status: true });
    assert.equal(await after.checkHolder(b.publicKeyPem), { status: true });
    assert.is((await sshRun(ra.port, { password: ra.credentials.password }, 'echo a')).trim(), 'a');
    assert.is((await sshRun(rb.port, { password: rb.credentials.password }, 'echo b')).trim(), 'b');
    const third = await after.allocate(request(c.publicKeyPem));
    assert.is(third.status, false, 'both cores are held');
    const outside = after.state().hosts[0]!.outsidePool;
    assert.equal(outside, [ra.port, rb.port].filter((p) => p !== ctx.ports[0]));
    assert.equal(await after.deallocate(a.publicKeyPem), { status: true });
    assert.equal(await after.deallocate(b.publicKeyPem), { status: true });
    assert.is(after.ledger.all().length, 0);
  } finally {
    for (const k of [a, b, c]) await after.deallocate(k.publicKeyPem).catch(() => undefined);
  }
});

independent.run();
