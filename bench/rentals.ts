// bench rentals: the rental service on the real rental daemon (2 cores here), same run:
// back-to-back rentals (release, then allocate at once, as validators' test rentals come) with a
// warm container per host and without; where a cold one's time goes; two concurrent 1-core
// allocations against one, cold and warm; and what
// other validators wait while a renter's 40 s `dockerfile` build runs. Times are from the
// service's allocate call to its result (the axon's signed round trip comes on top; see `allocate`).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateHotkey } from '../protocol/index.js';
import { connectDocker } from '../src/containers/index.js';
import { DEFAULT_BASE_TAG } from '../src/containers/names.js';
import { containerCreateOptions, DEFAULT_CONTAINMENT, rentalNetworkOptions } from '../src/containers/options.js';
import { waitForSsh } from '../src/containers/ssh-ready.js';
import { composeRentals } from '../src/fleet/compose.js';
import { rentalHostLayout } from '../src/host/rental-dockerd.js';
import { silentLogger } from '../src/log.js';
import type { AllocationRequest, RentalService } from '../src/rentals/service.js';
import { parsePortPool } from '../src/resources/ports.js';
import { generateRenterKeyPair } from '../src/validator/credentials.js';
import { freePort } from './allocate.js';
import { registerBench } from './registry.js';
import { percentile, writeSection } from './results.js';

const MiB = 1024 ** 2;
const ROUNDS = 10;
const LABEL = 'compute-miner.bench-rentals';

interface Run { service: RentalService; dir: string; id: string }

async function startService(warm: number, ports: number): Promise<Run> {
  const id = randomBytes(4).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `cm-bench-rentals-${id}-`));
  const pool: number[] = [];
  while (pool.length < ports) {
    const p = await freePort();
    if (!pool.includes(p)) pool.push(p);
  }
  const service = composeRentals({
    common: { minerHotkey: generateHotkey().ss58Address, log: silentLogger() },
    dataDir: dir, namePrefix: `bench-${id}-`, labels: { [LABEL]: id },
    hosts: [{
      name: 'local', docker: connectDocker(rentalHostLayout().socket), endpoint: 'unix://', localEngine: true,
      sshBind: '127.0.0.1', sshPorts: parsePortPool(pool.join(','), 'bench'), renterPortPool: null,
    }],
    renterPorts: 0, warm, log: silentLogger(),
  });
  await service.start();
  await service.baseImageReady();
  return { service, dir, id };
}

async function stopService(run: Run): Promise<void> {
  for (const r of run.service.ledger.all()) await run.service.end(r.id, 'bench over').catch(() => undefined);
  await run.service.stop();
  const docker = connectDocker(rentalHostLayout().socket);
  const filters = { label: [`${LABEL}=${run.id}`] };
  for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
  rmSync(run.dir, { recursive: true, force: true });
}

const request = (publicKeyPem: string, dockerfile = ''): AllocationRequest => ({
  timelineDays: 1, publicKeyPem, sshKey: '', dockerfile,
  device: { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 512 * MiB }, gpu: {}, testing: false },
});

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await work;
  return { value, ms: performance.now() - t };
}

async function granted(service: RentalService, pem: string, dockerfile = ''): Promise<number> {
  const { value, ms } = await timed(service.allocate(request(pem, dockerfile)));
  if (!value.status) throw new Error(`refused: ${value.error}`);
  return ms;
}

/** Allocate, hold `holdMs`, release; the allocate times. */
async function backToBack(warm: number, holdMs: number): Promise<number[]> {
  const run = await startService(warm, 4);
  try {
    // The warm container of a fresh start is given its time once, as a running miner has.
    await new Promise((r) => setTimeout(r, 3000));
    const times: number[] = [];
    const key = generateRenterKeyPair().publicKeyPem;
    for (let i = 0; i < ROUNDS; i++) {
      times.push(await granted(run.service, key));
      if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
      const released = await run.service.deallocate(key);
      if (!released.status) throw new Error(`release refused: ${released.error}`);
    }
    return times;
  } finally {
    await stopService(run);
  }
}

/**
 * One 1-core allocation alone, then two at once on the 2 cores; wall times of each round. With
 * `warm` 2, each round first gives the pool time to start both warm containers again.
 */
async function concurrency(warm: number): Promise<{ one: number[]; two: number[] }> {
  const run = await startService(warm, 4);
  const one: number[] = [];
  const two: number[] = [];
  const refill = () => new Promise((r) => setTimeout(r, warm > 0 ? 6000 : 0));
  try {
    for (let i = 0; i < 3; i++) {
      await refill();
      const a = generateRenterKeyPair().publicKeyPem;
      one.push(await granted(run.service, a));
      await run.service.deallocate(a);
      await refill();
      const [b, c] = [generateRenterKeyPair().publicKeyPem, generateRenterKeyPair().publicKeyPem];
      two.push((await timed(Promise.all([granted(run.service, b), granted(run.service, c)]))).ms);
      await Promise.all([run.service.deallocate(b), run.service.deallocate(c)]);
    }
    return { one, two };
  } finally {
    await stopService(run);
  }
}

/** While a rental with a 40 s build is made: check-free, a holder's check and another rental. */
async function duringBuild(): Promise<{ checkFree: number; holder: number; other: number; built: number }> {
  const run = await startService(1, 4);
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const [a, b, c] = [generateRenterKeyPair().publicKeyPem, generateRenterKeyPair().publicKeyPem, generateRenterKeyPair().publicKeyPem];
    await granted(run.service, b);
    const building = timed(run.service.allocate(request(a, 'sleep 40')));
    await new Promise((r) => setTimeout(r, 2000));
    const checkFree = (await timed(run.service.checkFree(request(c).device))).ms;
    const holder = (await timed(run.service.checkHolder(b))).ms;
    await run.service.deallocate(b);
    const other = await granted(run.service, c);
    const built = await building;
    if (!built.value.status) throw new Error(`the built rental was refused: ${built.value.error}`);
    return { checkFree, holder, other, built: built.ms };
  } finally {
    await stopService(run);
  }
}

const PHASE_ROUNDS = 5;

/** A cold container's create, start and SSH answer timed apart, with the product's own options. */
async function coldPhases(): Promise<{ create: number[]; start: number[]; ssh: number[] }> {
  const docker = connectDocker(rentalHostLayout().socket);
  const id = randomBytes(4).toString('hex');
  const labels = { [LABEL]: id };
  const out = { create: [] as number[], start: [] as number[], ssh: [] as number[] };
  try {
    for (let i = 0; i < PHASE_ROUNDS; i++) {
      const bridgeId = randomBytes(4).toString('hex');
      const network = `bench-${id}-net-${bridgeId}`;
      await docker.createNetwork(rentalNetworkOptions(network, bridgeId, labels));
      const sshPort = await freePort();
      const create = await timed(docker.createContainer(containerCreateOptions({
        name: `bench-${id}-${i}`, image: DEFAULT_BASE_TAG, labels, cpuset: '0', memoryBytes: 256 * MiB, shmBytes: 64 * MiB,
        diskBytes: 512 * MiB, gpus: 0, sshBind: '127.0.0.1', sshPort, restartRetries: 0, network, containment: DEFAULT_CONTAINMENT,
      })));
      out.create.push(create.ms);
      out.start.push((await timed(create.value.start())).ms);
      out.ssh.push((await timed(waitForSsh('127.0.0.1', sshPort, 30_000))).ms);
      await create.value.remove({ force: true });
      await docker.getNetwork(network).remove();
    }
    return out;
  } finally {
    const filters = { label: [`${LABEL}=${id}`] };
    for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
  }
}

const f = (v: number) => v.toFixed(0);

registerBench('rentals', async () => {
  const warmHeld = await backToBack(1, 1500);
  const warmAtOnce = await backToBack(1, 0);
  const cold = await backToBack(0, 0);
  const cold2 = await concurrency(0);
  const warm2 = await concurrency(2);
  const phases = await coldPhases();
  const build = await duringBuild();
  const p50 = (xs: number[]) => percentile(xs, 50);
  const rows = [
    `| back-to-back, warm container, rental held 1.5 s | ${ROUNDS} | ${f(p50(warmHeld))} | ${f(percentile(warmHeld, 90))} | 1.00× |`,
    `| back-to-back, warm container, released and asked again at once | ${ROUNDS} | ${f(p50(warmAtOnce))} | ${f(percentile(warmAtOnce, 90))} | ${(p50(warmAtOnce) / p50(warmHeld)).toFixed(2)}× |`,
    `| back-to-back, no warm container (cold) | ${ROUNDS} | ${f(p50(cold))} | ${f(percentile(cold, 90))} | ${(p50(cold) / p50(warmHeld)).toFixed(2)}× |`,
  ];
  const text = `Service allocate call → result (credentials, SSH answering), 1 core, 256 MiB, 512 MiB disk, on the rental daemon.

| case | n | p50 ms | p90 ms | p50 vs warm |
|---|---|---|---|---|
${rows.join('\n')}

Where a cold allocation's time goes (the rental's own network made ahead, as the runtime does; the product's create options, raw Engine API, ${PHASE_ROUNDS} rounds, p50): \`docker create\` ${f(p50(phases.create))} ms, \`docker start\` ${f(p50(phases.start))} ms, SSH answering after start ${f(p50(phases.ssh))} ms.

Concurrency, two 1-core allocations at once on the 2 cores until both are granted, against one alone (3 rounds each, p50):

| warm containers | one alone ms | two at once ms | two ÷ one |
|---|---|---|---|
| none (both cold) | ${f(p50(cold2.one))} | ${f(p50(cold2.two))} | **${(p50(cold2.two) / p50(cold2.one)).toFixed(2)}×** |
| \`--standby 2\` (both warm) | ${f(p50(warm2.one))} | ${f(p50(warm2.two))} | **${(p50(warm2.two) / p50(warm2.one)).toFixed(2)}×** |

While a renter's rental with a 40 s \`dockerfile\` build was being made: check-free answered in ${f(build.checkFree)} ms, another holder's check in ${f(build.holder)} ms, another renter's 1-core rental was granted in ${f(build.other)} ms; the built rental itself came after ${f(build.built / 1000)} s.`;
  process.stdout.write(`${text}\n`);
  writeSection('rentals', text);
});
