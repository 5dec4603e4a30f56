// bench allocate: signed Allocate requests over loopback to an in-process axon with the real
// rental service on the local Docker daemon (one host, a pool of one SSH port). Allocate: request → reply, which comes only
// after SSH on the published port answers with the new credentials. De-allocate: request →
// reply, which comes only after the container is gone. Every round is checked, not assumed.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateHotkey } from '../protocol/index.js';
import { createAxon } from '../src/axon/server.js';
import type Dockerode from 'dockerode';
import { connectDocker } from '../src/containers/index.js';
import { composeRentals } from '../src/fleet/compose.js';
import { singlePortPool } from '../src/resources/ports.js';
import type { RentalService } from '../src/rentals/service.js';
import { rentalHostLayout } from '../src/host/rental-dockerd.js';
import { sshAnswers } from '../src/containers/ssh-ready.js';
import { allocatePlugin } from '../src/handlers/allocate.js';
import { silentLogger } from '../src/log.js';
import { decryptAllocationInfo, generateRenterKeyPair } from '../src/validator/credentials.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { registerBench } from './registry.js';
import { percentile, writeSection } from './results.js';

const ROUNDS = 12;
const WARMUP_ROUNDS = 1;
const RUN_LABEL = 'compute-miner.bench-run';
const MiB = 1024 * 1024;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const ms = (v: number) => v.toFixed(0);

export interface Figures { allocations: number[]; deallocations: number[] }

export interface BenchRentalsOptions {
  docker: Dockerode;
  dataDir: string;
  minerHotkey: string;
  sshPort: number;
  namePrefix: string;
  labels: Record<string, string>;
  /** Warm containers kept (the old standby): 1, or 0 for none. */
  warm: 0 | 1;
}

/** The rental service of one machine as the miner composes it, with one SSH port (`--ssh-port N`). */
export function benchRentals(o: BenchRentalsOptions): RentalService {
  return composeRentals({
    common: { minerHotkey: o.minerHotkey, log: silentLogger() },
    dataDir: o.dataDir, namePrefix: o.namePrefix, labels: o.labels, renterPorts: 0, warm: o.warm, log: silentLogger(),
    hosts: [{
      name: 'local', docker: o.docker, endpoint: `unix://${rentalHostLayout().socket}`, localEngine: process.getuid?.() === 0,
      sshBind: '127.0.0.1', sshPorts: singlePortPool(o.sshPort, '--ssh-port'), renterPortPool: null,
    }],
  });
}

async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('the standby container did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Rounds of allocate + de-allocate; with `standby` (a warm container kept), each allocate waits for the idle miner's warm container first. */
export async function rounds(standby: boolean, count = ROUNDS, tag = standby ? 'standby' : 'cold'): Promise<Figures> {
  // The product's own rental daemon: btrfs pool (disk quotas), a network per rental.
  const docker = connectDocker(rentalHostLayout().socket);
  const runId = randomBytes(4).toString('hex');
  const labels = { [RUN_LABEL]: runId };
  const dataDir = mkdtempSync(join(tmpdir(), `cm-bench-${runId}-`));
  const sshPort = await freePort();
  const minerHotkey = generateHotkey();
  const manager = benchRentals({
    docker, dataDir, minerHotkey: minerHotkey.ss58Address, sshPort, namePrefix: `bench-${runId}-`, labels, warm: standby ? 1 : 0,
  });
  await manager.start();
  process.stdout.write('waiting for the base image (built once; about a minute the first time)\n');
  await manager.baseImageReady();
  const axon = createAxon({
    hotkey: minerHotkey, host: '127.0.0.1', port: 0, plugins: [allocatePlugin(manager)],
    access: { allowAny: true, allow: new Map(), deny: new Set(), minStake: 0 }, log: silentLogger(),
  });
  const { port } = await axon.listen();
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: `ws://127.0.0.1:${port}`, axonHotkey: minerHotkey.ss58Address, timeoutMs: 60_000 });
  const renter = generateRenterKeyPair();
  const allocations: number[] = [];
  const deallocations: number[] = [];
  const ours = () => docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } });
  try {
    await dendrite.connect();
    for (let round = 0; round < WARMUP_ROUNDS + count; round++) {
      // A miner between rentals has its warm container started; back-to-back rounds would not.
      if (standby) await until(() => manager.state().standby);
      let t = performance.now();
      const reply = await dendrite.call('Allocate', {
        timeline: 1, checking: false, public_key: renter.publicKeyPem,
        device_requirement: { cpu: { count: 1 }, ram: { capacity: 512 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {} },
      });
      const allocateMs = performance.now() - t;
      const output = (reply.body as { output?: { status: boolean; info?: string; error?: string } } | undefined)?.output;
      if (reply.code !== 200 || !output?.status) throw new Error(`allocate failed: ${reply.code} ${reply.message} ${output?.error ?? ''}`);
      decryptAllocationInfo(output.info!, renter.privateKeyPem);
      if (!(await sshAnswers('127.0.0.1', sshPort, 1000))) throw new Error('SSH did not answer after the allocate reply');
      const rented = new Set(manager.ledger.all().map((r) => r.workload?.container));
      if (rented.size !== 1 || rented.has(undefined)) throw new Error('the ledger does not hold exactly the one rental');

      t = performance.now();
      const freed = await dendrite.call('Allocate', { timeline: 0, checking: false, public_key: renter.publicKeyPem });
      const deallocateMs = performance.now() - t;
      if (freed.code !== 200 || !(freed.body as { output: { status: boolean } }).output.status) throw new Error(`de-allocate failed: ${freed.code} ${freed.message}`);
      // The rental's container is gone (a new warm container may already be starting beside it).
      const left = (await ours()).filter((c) => rented.has(c.Id));
      if (left.length !== 0 || manager.ledger.all().length !== 0) throw new Error('the container is still there after the de-allocate reply');
      if (round >= WARMUP_ROUNDS) {
        allocations.push(allocateMs);
        deallocations.push(deallocateMs);
      }
      process.stdout.write(`${tag} round ${round + 1 - WARMUP_ROUNDS}: allocate ${ms(allocateMs)} ms, de-allocate ${ms(deallocateMs)} ms${round < WARMUP_ROUNDS ? ' (warm-up)' : ''}\n`);
    }
  } finally {
    await dendrite.close();
    await axon.close();
    await manager.stop();
    for (const c of await ours()) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    for (const n of await docker.listNetworks({ filters: { label: [`${RUN_LABEL}=${runId}`] } })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { allocations, deallocations };
}

async function benchAllocate(): Promise<void> {
  const load = loadavg()[0]!;
  const warm = await rounds(true);
  const cold = await rounds(false);
  const sorted = (v: number[]) => [...v].sort((x, y) => x - y);
  const row = (name: string, values: number[]) => {
    const v = sorted(values);
    return `| ${name} | ${ms(percentile(v, 50))} | ${ms(percentile(v, 90))} | ${ms(v[0]!)} | ${ms(v[v.length - 1]!)} |`;
  };
  const markdown = `
Signed Allocate requests over loopback (Dendrite → in-process axon → rental service → the miner's
rental Docker daemon on its btrfs storage pool), ${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up round per mode. Allocate: 1 core, 512 MiB, 1 GiB disk, from request
to reply; the miner replies only once SSH on the published port answers, after handing the new credentials
to the container (after each reply the bench decrypts \`info\` and probes SSH again). De-allocate: request to reply; the reply comes only after the
container is removed (checked after each reply). 1-minute load average ${load.toFixed(2)} at the start.

Every rental is contained: its own bridge network, dropped capabilities, pids/file limits, a bounded log.

- **standby** (the default, one warm container per host): the idle miner keeps one started container on its
  own network, already named and labelled for the rental that will claim it; a rental sets its cpuset and
  memory limit (docker update), its disk quota (the btrfs qgroup of its layer) and /dev/shm size from the
  host, and hands the password hash, the motd and the keys to its entry script in one write, all at once;
  its SSH host keys were read when it started.
  Each round waits until the warm container is back, as a miner between rentals would have it.
- **cold** (\`--standby 0\`, and always for test containers, GPUs, renter Dockerfiles): take the network
  made ahead (or make one), create + start a container, then hand over the credentials while waiting for
  SSH and reading its host keys.
- De-allocate stops the container, swaps its two btrfs layers for empty subvolumes (Docker's btrfs driver
  would walk every directory of them) and removes it and its network.

| operation | p50 ms | p90 ms | min ms | max ms |
|---|---|---|---|---|
${row('allocate (standby)', warm.allocations)}
${row('de-allocate (standby)', warm.deallocations)}
${row('allocate (cold)', cold.allocations)}
${row('de-allocate (cold)', cold.deallocations)}

Targets: allocate p50 ≤ 150 ms on the standby path and ≤ 500 ms cold, de-allocate p50 ≤ 1000 ms.

Command: \`npm run bench -- allocate\`
`;
  writeSection('allocate', markdown);
  process.stdout.write(markdown);
}

registerBench('allocate', benchAllocate);
