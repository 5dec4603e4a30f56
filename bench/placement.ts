// bench placement: the pure placement (src/fleet/placement.ts) over a simulated fleet of 1,000
// hosts × 8 GPUs at several fill levels, µs per decision; and the fleet's Specs reply
// (src/fleet/fleet-specs.ts) over 10 and 1,000 simulated hosts. No I/O: the figures are the
// decision's own cost, which the manager pays under its lock for every Allocate.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { SpecsOutput } from '../protocol/index.js';
import { fleetSpecs, type HostReport } from '../src/fleet/fleet-specs.js';
import { place, type HostInventory, type PlacedRental, type PlacementRequest } from '../src/fleet/placement.js';
import { registerBench } from './registry.js';
import { percentile, writeSection } from './results.js';

const HOSTS = 1000;
const GPUS_PER_HOST = 8;
const CORES_PER_HOST = 128;
const DECISIONS = 2000;
const SPECS_ROUNDS = 500;
const WARMUP = 200;
const GiB = 1024 ** 3;

/** A small seeded generator (mulberry32), so every run simulates the same fleet. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The rental shapes of the simulation: what renters of a GPU fleet ask for. */
const SHAPES: PlacementRequest[] = [
  { cores: 16, memoryBytes: 128 * GiB, diskBytes: 500 * GiB, gpus: 1, testing: false },
  { cores: 32, memoryBytes: 256 * GiB, diskBytes: 1000 * GiB, gpus: 2, testing: false },
  { cores: 64, memoryBytes: 512 * GiB, diskBytes: 2000 * GiB, gpus: 4, testing: false },
  { cores: 4, memoryBytes: 16 * GiB, diskBytes: 50 * GiB, gpus: 0, testing: false },
  { cores: 2, memoryBytes: 4 * GiB, diskBytes: 10 * GiB, gpus: 1, testing: true },
];

/** A fleet filled by placing random rentals until `fill` of its GPUs are taken (or nothing more fits). */
function simulatedFleet(fill: number, rand: () => number): HostInventory[] {
  const hosts: (HostInventory & { rentals: PlacedRental[] })[] = Array.from({ length: HOSTS }, (_, i) => ({
    name: `gpu-${String(i).padStart(4, '0')}`, up: i % 100 !== 99, cpuCount: CORES_PER_HOST,
    gpus: Array.from({ length: GPUS_PER_HOST }, (_, index) => ({ index, name: 'NVIDIA H100 80GB HBM3' })),
    memoryBytes: 2048 * GiB, diskBytes: 8000 * GiB, rentals: [],
  }));
  const target = fill * HOSTS * GPUS_PER_HOST;
  let gpus = 0;
  for (let n = 0, misses = 0; gpus < target && misses < 20; n++) {
    const shape = SHAPES[Math.floor(rand() * SHAPES.length)]!;
    const got = place(hosts, shape);
    if (!got.ok) { misses++; continue; }
    const host = hosts.find((h) => h.name === got.host)!;
    for (const ended of host.rentals.filter((r) => got.endTesting.includes(r.id))) gpus -= ended.gpus.length;
    host.rentals = host.rentals.filter((r) => !got.endTesting.includes(r.id));
    host.rentals.push({ id: `r${n}`, cpuset: got.cpuset, gpus: got.gpus, memoryBytes: shape.memoryBytes, diskBytes: shape.diskBytes, testing: shape.testing });
    gpus += got.gpus.length;
  }
  return hosts;
}

function timeDecisions(hosts: HostInventory[], requests: PlacementRequest[]): { p50: number; p99: number; granted: number } {
  for (let i = 0; i < WARMUP; i++) place(hosts, requests[i % requests.length]!);
  const us: number[] = [];
  let granted = 0;
  for (const request of requests) {
    const started = performance.now();
    const got = place(hosts, request);
    us.push((performance.now() - started) * 1000);
    if (got.ok) granted++;
  }
  us.sort((a, b) => a - b);
  return { p50: percentile(us, 50), p99: percentile(us, 99), granted };
}

function specsOf(host: HostInventory): SpecsOutput {
  return {
    cpu: { count: host.cpuCount, frequency: 2400, vendor: 'AuthenticAMD', model: 'AMD EPYC 9654' },
    gpu: { count: host.gpus.length, capacity: host.gpus.length * 81559, details: host.gpus.map((g) => ({ name: g.name, capacity: 81559 })) },
    hard_disk: { total: host.diskBytes, free: host.diskBytes / 2, used: host.diskBytes / 2 },
    ram: { total: host.memoryBytes, available: host.memoryBytes / 2, used: host.memoryBytes / 2, free: host.memoryBytes / 4 },
    docker: { available: host.up, version: host.up ? '24.0.7' : '' },
  };
}

function timeSpecs(reports: HostReport[]): { p50: number; p99: number } {
  for (let i = 0; i < 20; i++) fleetSpecs(reports);
  const us: number[] = [];
  for (let i = 0; i < SPECS_ROUNDS; i++) {
    const started = performance.now();
    fleetSpecs(reports);
    us.push((performance.now() - started) * 1000);
  }
  us.sort((a, b) => a - b);
  return { p50: percentile(us, 50), p99: percentile(us, 99) };
}

const fmt = (us: number) => (us >= 100 ? us.toFixed(0) : us.toFixed(1));

registerBench('placement', async () => {
  const startLoad = loadavg()[0]!;
  const log = (s: string) => { process.stdout.write(`${s}\n`); };
  const rand = random(9);
  const requests = Array.from({ length: DECISIONS }, () => SHAPES[Math.floor(rand() * SHAPES.length)]!);
  const rows: string[] = [];
  const fleets: { label: string; hosts: HostInventory[] }[] = [];
  for (const fill of [0, 0.5, 0.9, 1]) {
    const hosts = simulatedFleet(fill, random(100 + fill * 10));
    const rentals = hosts.reduce((s, h) => s + h.rentals.length, 0);
    const gpus = hosts.reduce((s, h) => s + h.rentals.reduce((t, r) => t + r.gpus.length, 0), 0);
    const label = `${Math.round((gpus / (HOSTS * GPUS_PER_HOST)) * 100)}% of GPUs taken (${rentals} rentals)`;
    fleets.push({ label, hosts });
    const mixed = timeDecisions(hosts, requests);
    rows.push(`| ${label} | mixed shapes | ${fmt(mixed.p50)} | ${fmt(mixed.p99)} | ${mixed.granted} of ${DECISIONS} |`);
    log(rows.at(-1)!);
  }
  // The slowest paths: a whole host's GPUs where none is whole (refusal after weighing every host's test rentals).
  const full = fleets.at(-1)!;
  const all = timeDecisions(full.hosts, Array.from({ length: DECISIONS }, () => ({ cores: 8, memoryBytes: 64 * GiB, diskBytes: 100 * GiB, gpus: 'all', testing: false })));
  rows.push(`| ${full.label} | "all" GPUs, production (refused or ends tests) | ${fmt(all.p50)} | ${fmt(all.p99)} | ${all.granted} of ${DECISIONS} |`);
  log(rows.at(-1)!);

  const specsRows: string[] = [];
  for (const count of [10, 1000]) {
    const reports = fleets[1]!.hosts.slice(0, count).map((h) => ({ ...h, specs: specsOf(h) }));
    const t = timeSpecs(reports);
    specsRows.push(`| ${count} | ${fmt(t.p50)} | ${fmt(t.p99)} |`);
    log(specsRows.at(-1)!);
  }

  writeSection('placement', `
Pure placement (\`place\` in src/fleet/placement.ts) over a simulated fleet of ${HOSTS} hosts × ${GPUS_PER_HOST} GPUs,
${CORES_PER_HOST} cores, 2 TiB memory and 8 TB disk each, 1 host in 100 down; filled by placing random rentals of the shapes
below (1 GPU/16 cores, 2/32, 4/64, CPU-only 4 cores, and 1-GPU test rentals). Each row times ${DECISIONS} decisions
on the same fleet (nothing is recorded between them) after ${WARMUP} warm-up ones: a decision reads every host's
rentals (cpusets as Docker writes them), so its cost grows with hosts × rentals.
1-minute load average ${startLoad.toFixed(2)} at the start; on a machine shared with other work the p50s move by
up to 2× between runs and the p99s take in garbage-collection pauses and preemption.

| fleet | requests | p50 µs | p99 µs | granted |
|---|---|---|---|---|
${rows.join('\n')}

Fleet Specs (\`fleetSpecs\` in src/fleet/fleet-specs.ts: totals, best single host's free room, one entry per host) over
hosts of the 50% fleet, ${SPECS_ROUNDS} rounds:

| hosts | p50 µs | p99 µs |
|---|---|---|
${specsRows.join('\n')}

Command: \`npm run bench -- placement\`
`);
});
