// Pure placement over a fleet, read as a table: which host, cores and GPUs a request gets, which
// test rentals it ends, or the refusal it gets; then the fill, displacement and Specs properties.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { specsOutputSchema, type SpecsOutput } from '../protocol/index.js';
import { formatCpuset, parseCpuset } from '../src/resources/cpuset.js';
import { fleetSpecs, type HostReport } from '../src/fleet/fleet-specs.js';
import { placementRequest } from '../src/fleet/request.js';
import {
  checkFits, countRooms, freeRoom, pickRun, roomCounts, place, type HostInventory, type PlacedRental, type Placement, type PlacementRequest,
} from '../src/fleet/placement.js';

const GiB = 1024 ** 3;

const gpus = (n: number, name = 'NVIDIA H100 80GB HBM3') => Array.from({ length: n }, (_, index) => ({ index, name }));
const host = (name: string, over: Partial<HostInventory> = {}): HostInventory => ({
  name, up: true, cpuCount: 4, gpus: [], memoryBytes: 16 * GiB, diskBytes: 100 * GiB, rentals: [], ...over,
});
const rental = (id: string, cpuset: string, over: Partial<PlacedRental> = {}): PlacedRental => ({
  id, cpuset, gpus: [], memoryBytes: GiB, diskBytes: 0, testing: false, ...over,
});
const req = (over: Partial<PlacementRequest> = {}): PlacementRequest => ({ cores: 1, memoryBytes: GiB, diskBytes: 0, gpus: 0, testing: false, ...over });

type Expect = { host: string; cpuset: string; deviceIds?: string[]; endTesting?: string[] } | { reason: RegExp };

const CASES: { name: string; hosts: HostInventory[]; request: PlacementRequest; expect: Expect }[] = [
  {
    name: 'an empty host gives the lowest cores',
    hosts: [host('a')], request: req({ cores: 2 }), expect: { host: 'a', cpuset: '0-1' },
  },
  {
    name: 'cores already held are never given again',
    hosts: [host('a', { rentals: [rental('r1', '0-1')] })], request: req({ cores: 2 }), expect: { host: 'a', cpuset: '2-3' },
  },
  {
    name: 'the shortest run of free cores that holds the request is used, keeping long runs whole',
    hosts: [host('a', { cpuCount: 8, rentals: [rental('r1', '1'), rental('r2', '4')] })], // free: 0 | 2-3 | 5-7
    request: req({ cores: 2 }), expect: { host: 'a', cpuset: '2-3' },
  },
  {
    name: 'no run is long enough: the lowest free cores, as a split cpuset',
    hosts: [host('a', { cpuCount: 8, rentals: [rental('r1', '1-2,5-6')] })], // free: 0 | 3-4 | 7
    request: req({ cores: 4 }), expect: { host: 'a', cpuset: '0,3-4,7' },
  },
  {
    name: 'best fit: the host left with the fewest free cores',
    hosts: [host('big', { cpuCount: 16 }), host('small', { cpuCount: 4, rentals: [rental('r1', '0-1')] })],
    request: req({ cores: 2 }), expect: { host: 'small', cpuset: '2-3' },
  },
  {
    name: 'best fit on GPUs first: a CPU-only rental goes to the host without free GPUs',
    hosts: [host('gpu', { cpuCount: 4, gpus: gpus(2) }), host('cpu', { cpuCount: 32 })],
    request: req({ cores: 2 }), expect: { host: 'cpu', cpuset: '0-1' },
  },
  {
    name: 'a 1-GPU rental goes to the host with the fewest free GPUs, keeping whole 8-GPU hosts for big rentals',
    hosts: [
      host('full8', { cpuCount: 64, gpus: gpus(8) }),
      host('part8', { cpuCount: 64, gpus: gpus(8), rentals: [rental('r1', '0-7', { gpus: [0, 1, 2, 3, 4, 5] })] }),
    ],
    request: req({ cores: 4, gpus: 1 }), expect: { host: 'part8', cpuset: '8-11', deviceIds: ['6'] },
  },
  {
    name: 'GPUs by index: the shortest run of free indices',
    hosts: [host('a', { cpuCount: 16, gpus: gpus(8), rentals: [rental('r1', '0', { gpus: [3, 4] }), rental('r2', '1', { gpus: [6] })] })], // free: 0-2 | 5 | 7
    request: req({ gpus: 2 }), expect: { host: 'a', cpuset: '2', deviceIds: ['0', '1'] },
  },
  {
    name: '"all" GPUs: only a host whose every GPU is free',
    hosts: [
      host('busy', { cpuCount: 8, gpus: gpus(4), rentals: [rental('r1', '0', { gpus: [0] })] }),
      host('idle', { cpuCount: 8, gpus: gpus(4) }),
    ],
    request: req({ gpus: 'all' }), expect: { host: 'idle', cpuset: '0', deviceIds: ['0', '1', '2', '3'] },
  },
  {
    name: 'ties are broken by host name',
    hosts: [host('b'), host('a'), host('c')], request: req(), expect: { host: 'a', cpuset: '0' },
  },
  {
    name: 'a host that is down is skipped even when it has room',
    hosts: [host('a', { up: false, cpuCount: 64 }), host('b', { cpuCount: 2 })], request: req({ cores: 2 }), expect: { host: 'b', cpuset: '0-1' },
  },
  {
    name: 'memory and disk are committed by the rentals\' limits',
    hosts: [
      host('a', { memoryBytes: 8 * GiB, rentals: [rental('r1', '0', { memoryBytes: 6 * GiB })] }),
      host('b', { memoryBytes: 8 * GiB, diskBytes: 10 * GiB }),
    ],
    request: req({ memoryBytes: 4 * GiB, diskBytes: 5 * GiB }), expect: { host: 'b', cpuset: '0' },
  },
  {
    name: 'a production rental that fits nowhere ends test rentals: the fewest, on one host',
    hosts: [
      host('a', { cpuCount: 4, rentals: [rental('t1', '0', { testing: true }), rental('t2', '1', { testing: true }), rental('p1', '2-3')] }),
      host('b', { cpuCount: 4, rentals: [rental('t3', '0-1', { testing: true }), rental('p2', '2-3')] }),
    ],
    request: req({ cores: 2 }), expect: { host: 'b', cpuset: '0-1', endTesting: ['t3'] },
  },
  {
    name: 'ending test rentals keeps every test rental it can spare',
    hosts: [host('a', { cpuCount: 4, rentals: [rental('t1', '0', { testing: true }), rental('t2', '1-2', { testing: true }), rental('t3', '3', { testing: true })] })],
    request: req({ cores: 2 }), expect: { host: 'a', cpuset: '1-2', endTesting: ['t2'] },
  },
  {
    name: 'a host that fits without ending anything wins over one that would end tests',
    hosts: [
      host('a', { cpuCount: 2, rentals: [rental('t1', '0-1', { testing: true })] }),
      host('b', { cpuCount: 16 }),
    ],
    request: req({ cores: 2 }), expect: { host: 'b', cpuset: '0-1', endTesting: [] },
  },
  {
    name: 'a test rental never ends a production rental',
    hosts: [host('a', { cpuCount: 2, rentals: [rental('p1', '0-1')] })],
    request: req({ testing: true }), expect: { reason: /^insufficient CPU: 1 core requested, the largest free on one host is 0$/ },
  },
  {
    name: 'a test rental never ends another test rental',
    hosts: [host('a', { cpuCount: 2, rentals: [rental('t1', '0-1', { testing: true })] })],
    request: req({ testing: true }), expect: { reason: /^insufficient CPU: 1 core requested, the largest free on one host is 0$/ },
  },
  {
    name: 'refusal: cores, naming the largest free on one host',
    hosts: [host('a', { cpuCount: 2 }), host('b', { cpuCount: 4, rentals: [rental('r', '0-1')] })],
    request: req({ cores: 4 }), expect: { reason: /^insufficient CPU: 4 cores requested, the largest free on one host is 2$/ },
  },
  {
    name: 'refusal: memory, readable and exact',
    hosts: [host('a', { memoryBytes: 4 * GiB })],
    request: req({ memoryBytes: 8 * GiB }), expect: { reason: /^insufficient memory: 8 GiB \(8589934592 bytes\) requested, the largest free on one host is 4 GiB \(4294967296 bytes\)$/ },
  },
  {
    name: 'refusal: disk',
    hosts: [host('a', { diskBytes: 10 * GiB })],
    request: req({ diskBytes: 20 * GiB }), expect: { reason: /^insufficient disk: 20 GiB .* the largest free on one host is 10 GiB/ },
  },
  {
    name: 'refusal: GPUs on a fleet without any',
    hosts: [host('a')], request: req({ gpus: 1 }), expect: { reason: /^no GPU on any host that is up/ },
  },
  {
    name: 'refusal: more GPUs than one host has free',
    hosts: [host('a', { gpus: gpus(2) }), host('b', { gpus: gpus(2), rentals: [rental('r', '0', { gpus: [0] })] })],
    request: req({ gpus: 3 }), expect: { reason: /^insufficient GPU: 3 GPUs requested, the largest free on one host is 2$/ },
  },
  {
    name: 'refusal: "all" when every GPU host has one taken',
    hosts: [host('a', { gpus: gpus(2), rentals: [rental('r', '0', { gpus: [1] })] })],
    request: req({ gpus: 'all' }), expect: { reason: /^insufficient GPU: all GPUs of one host requested, no host has all of its GPUs free$/ },
  },
  {
    name: 'refusal: every resource is free somewhere, but not on one host',
    hosts: [host('cores', { cpuCount: 8, memoryBytes: 2 * GiB }), host('memory', { cpuCount: 1, memoryBytes: 64 * GiB })],
    request: req({ cores: 4, memoryBytes: 16 * GiB }), expect: { reason: /^no single host has it all free at once: 4 cores, 16 GiB/ },
  },
  {
    name: 'refusal: several shortages at once, and the hosts down are counted',
    hosts: [host('a', { cpuCount: 2, memoryBytes: GiB }), host('b', { up: false, cpuCount: 64 })],
    request: req({ cores: 4, memoryBytes: 2 * GiB }), expect: { reason: /^insufficient CPU: 4 cores .*; insufficient memory: .* \(1 host down\)$/ },
  },
  {
    name: 'refusal: every host down',
    hosts: [host('a', { up: false }), host('b', { up: false })], request: req(), expect: { reason: /^no host is up \(2 down\)$/ },
  },
  {
    name: 'refusal: no hosts at all',
    hosts: [], request: req(), expect: { reason: /^no host to place a rental on$/ },
  },
  {
    name: 'refusal: an impossible request',
    hosts: [host('a')], request: req({ cores: 0 }), expect: { reason: /^invalid request: cores must be an integer ≥ 1$/ },
  },
  {
    name: 'a rental whose cpuset does not read holds every core of its host',
    hosts: [host('a', { rentals: [rental('broken', 'zz')] }), host('b', { cpuCount: 8, rentals: [rental('r', '0-6')] })],
    request: req(), expect: { host: 'b', cpuset: '7' },
  },
];

for (const c of CASES) {
  test(`place: ${c.name}`, () => {
    const before = JSON.stringify(c.hosts);
    const got = place(c.hosts, c.request);
    assert.is(JSON.stringify(c.hosts), before, 'placement changes nothing');
    if ('reason' in c.expect) {
      assert.is(got.ok, false, JSON.stringify(got));
      assert.match((got as { reason: string }).reason, c.expect.reason);
      return;
    }
    assert.ok(got.ok, JSON.stringify(got));
    const granted = got as Extract<Placement, { ok: true }>;
    assert.is(granted.host, c.expect.host);
    assert.is(granted.cpuset, c.expect.cpuset);
    assert.equal(granted.deviceIds, c.expect.deviceIds ?? []);
    assert.equal(granted.gpus, (c.expect.deviceIds ?? []).map(Number));
    assert.equal(granted.endTesting, c.expect.endTesting ?? []);
    assert.is(granted.cores.length, c.request.cores);
  });
}

/** Places rentals one by one, recording each on its host as the set of rentals would, until refused. */
function fill(hosts: HostInventory[], request: PlacementRequest): { placed: { host: string; cpuset: string; gpus: number[] }[]; refusal: string } {
  const placed: { host: string; cpuset: string; gpus: number[] }[] = [];
  for (let n = 0; n < 10_000; n++) {
    const got = place(hosts, request);
    if (!got.ok) return { placed, refusal: got.reason };
    const target = hosts.find((h) => h.name === got.host)!;
    for (const id of got.endTesting) target.rentals = target.rentals.filter((r) => r.id !== id);
    target.rentals = [...target.rentals, rental(`n${n}`, got.cpuset, { gpus: got.gpus, memoryBytes: request.memoryBytes, diskBytes: request.diskBytes, testing: request.testing })];
    placed.push({ host: got.host, cpuset: got.cpuset, gpus: got.gpus });
  }
  throw new Error('fill did not end');
}

test('fill: one 1-core rental per free core and no more, every cpuset disjoint', () => {
  const hosts = [host('a', { cpuCount: 3, rentals: [rental('old', '1')] }), host('b', { cpuCount: 5 }), host('down', { up: false, cpuCount: 8 })];
  const { placed, refusal } = fill(hosts, req({ memoryBytes: 0 }));
  assert.is(placed.length, 2 + 5);
  for (const name of ['a', 'b']) {
    const cores = hosts.find((h) => h.name === name)!.rentals.flatMap((r) => parseCpuset(r.cpuset)!);
    assert.is(new Set(cores).size, cores.length, `${name}: no core given twice`);
  }
  assert.equal(hosts.find((h) => h.name === 'a')!.rentals.flatMap((r) => parseCpuset(r.cpuset)!).sort(), [0, 1, 2]);
  assert.is(placed.filter((p) => p.host === 'down').length, 0);
  assert.match(refusal, /^insufficient CPU: 1 core requested, the largest free on one host is 0 \(1 host down\)$/);
});

test('fill: memory ends the fill before the cores do', () => {
  const hosts = [host('a', { cpuCount: 8, memoryBytes: 3 * GiB })];
  const { placed, refusal } = fill(hosts, req({ memoryBytes: GiB }));
  assert.is(placed.length, 3);
  assert.match(refusal, /^insufficient memory/);
});

test('fill: 1-GPU rentals take every GPU index once over an 8-GPU fleet of two hosts', () => {
  const hosts = [host('a', { cpuCount: 8, gpus: gpus(4) }), host('b', { cpuCount: 8, gpus: gpus(4) })];
  const { placed, refusal } = fill(hosts, req({ gpus: 1 }));
  assert.is(placed.length, 8);
  for (const name of ['a', 'b']) {
    assert.equal(placed.filter((p) => p.host === name).flatMap((p) => p.gpus).sort(), [0, 1, 2, 3]);
  }
  // Best fit packs one host before it opens the next.
  assert.equal(placed.slice(0, 4).map((p) => p.host), ['a', 'a', 'a', 'a']);
  assert.match(refusal, /^insufficient GPU: 1 GPU requested, the largest free on one host is 0$/);
});

test('fill: test rentals fill a host, then production rentals take their place one by one and never the reverse', () => {
  const hosts = [host('a', { cpuCount: 4 })];
  assert.is(fill(hosts, req({ testing: true, memoryBytes: 0 })).placed.length, 4);
  const production = fill(hosts, req({ memoryBytes: 0 }));
  assert.is(production.placed.length, 4);
  assert.ok(hosts[0]!.rentals.every((r) => !r.testing));
  assert.is(fill(hosts, req({ testing: true, memoryBytes: 0 })).placed.length, 0);
});

test('checkFits: answers for the request\'s own resources, says where and how many tests it ends, changes nothing', () => {
  const hosts = [host('a', { cpuCount: 4, rentals: [rental('p', '0-1'), rental('t', '2-3', { testing: true })] })];
  const before = JSON.stringify(hosts);
  assert.equal(checkFits(hosts, req({ cores: 2 })), { fits: true, host: 'a', endsTesting: 1 });
  assert.equal(checkFits(hosts, req({ cores: 2, testing: true })), { fits: false, reason: 'insufficient CPU: 2 cores requested, the largest free on one host is 0' });
  assert.equal(checkFits(hosts, req({ cores: 3 })), { fits: false, reason: 'insufficient CPU: 3 cores requested, the largest free on one host is 2' });
  assert.is(JSON.stringify(hosts), before);
});

test('freeRoom: cores, GPU indices, and bytes never below zero', () => {
  const h = host('a', { cpuCount: 4, gpus: gpus(2), memoryBytes: GiB, rentals: [rental('r', '1,3', { gpus: [1], memoryBytes: 2 * GiB })] });
  assert.equal(freeRoom(h), { cores: [0, 2], gpus: [0], memoryBytes: 0, diskBytes: 100 * GiB });
});

test('roomCounts: the same counts as freeRoom\'s lists, on random hosts with odd cpusets and GPU indices', () => {
  let seed = 7;
  const next = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let round = 0; round < 300; round++) {
    const cpuCount = 1 + next(140);
    const gpuIndices = [...new Set(Array.from({ length: next(6) }, () => next(40)))];
    const rentals: PlacedRental[] = Array.from({ length: next(6) }, (_, i) => {
      const from = next(cpuCount + 8);
      const cpuset = next(20) === 0 ? 'broken' : `${from}-${from + next(40)},${next(cpuCount + 4)}`;
      return rental(`r${i}`, cpuset, { gpus: gpuIndices.filter(() => next(3) === 0), memoryBytes: next(4) * GiB, testing: next(2) === 0 });
    });
    const h = host('h', { cpuCount, gpus: gpuIndices.map((index) => ({ index, name: 'g' })), rentals });
    for (const ignore of [undefined, (r: PlacedRental) => r.testing]) {
      const room = freeRoom(h, ignore);
      assert.equal(roomCounts(h, ignore), { cores: room.cores.length, gpus: room.gpus.length, memoryBytes: room.memoryBytes, diskBytes: room.diskBytes }, JSON.stringify(h));
    }
    // The one-pass pair agrees with two separate counts.
    assert.equal(countRooms(h, undefined, true), { all: roomCounts(h), production: roomCounts(h, (r) => r.testing) }, JSON.stringify(h));
  }
});

test('pickRun: shortest run that holds the count, lowest on a tie, else the lowest free', () => {
  assert.equal(pickRun([0, 1, 2, 5, 7, 8], 1), [5]);
  assert.equal(pickRun([0, 1, 2, 5, 7, 8], 2), [7, 8]);
  assert.equal(pickRun([0, 1, 2, 5, 7, 8], 3), [0, 1, 2]);
  assert.equal(pickRun([0, 2, 4], 2), [0, 2]);
  assert.equal(pickRun([0, 1, 4, 5], 1), [0], 'runs of one length: the lowest');
  assert.equal(pickRun([], 0), []);
});

test('placementRequest: an Allocate device_requirement as placement reads it', () => {
  assert.equal(placementRequest({ cpu: { count: 4 }, ram: { capacity: 2 * GiB }, hard_disk: { capacity: 10 * GiB }, gpu: { count: 'all' }, testing: true }),
    { cores: 4, memoryBytes: 2 * GiB, diskBytes: 10 * GiB, gpus: 'all', testing: true });
  assert.equal(placementRequest({ gpu: {}, testing: false }), { cores: 1, memoryBytes: 0, diskBytes: 0, gpus: 0, testing: false });
  assert.equal(placementRequest({ gpu: { count: 2 }, testing: false }).gpus, 2);
});

test('cpuset: Docker notation both ways', () => {
  assert.equal(parseCpuset('0-3,6'), [0, 1, 2, 3, 6]);
  assert.equal(parseCpuset(' 6 , 0-1 '), [0, 1, 6]);
  assert.equal(parseCpuset('2,2,1-2'), [1, 2]);
  for (const bad of ['', '3-1', 'a', '1,', '-1', '1-99999']) assert.is(parseCpuset(bad), null, bad);
  assert.is(formatCpuset([6, 0, 1, 2, 3]), '0-3,6');
  assert.is(formatCpuset([1, 3, 5]), '1,3,5');
  assert.is(formatCpuset([]), '');
});

const GPU_SPEC = { name: 'NVIDIA H100 80GB HBM3', capacity: 81559 };
const specsOf = (cores: number, gpuCount: number, ramGiB: number, diskGiB: number, version = '24.0.7'): SpecsOutput => ({
  cpu: { count: cores, frequency: 2400, vendor: 'AuthenticAMD', model: 'AMD EPYC' },
  gpu: { count: gpuCount, capacity: gpuCount * GPU_SPEC.capacity, details: Array.from({ length: gpuCount }, () => GPU_SPEC) },
  hard_disk: { total: diskGiB * GiB, free: diskGiB * GiB / 2, used: diskGiB * GiB / 2 },
  ram: { total: ramGiB * GiB, available: ramGiB * GiB / 2, used: ramGiB * GiB / 2, free: ramGiB * GiB / 4 },
  docker: { available: true, version },
});

test('fleetSpecs: totals of the hosts up, the best single host\'s free room, one entry per host by name', () => {
  const hosts: HostReport[] = [
    { ...host('b-gpu', { cpuCount: 16, gpus: gpus(2), memoryBytes: 64 * GiB, diskBytes: 500 * GiB, rentals: [rental('p', '0-3', { gpus: [0], memoryBytes: 8 * GiB, diskBytes: 50 * GiB })] }), specs: specsOf(16, 2, 64, 1000) },
    { ...host('a-cpu', { cpuCount: 32, memoryBytes: 128 * GiB, diskBytes: 900 * GiB, rentals: [rental('t', '0-7', { testing: true, memoryBytes: 16 * GiB })] }), specs: specsOf(32, 0, 128, 1000, '25.0.0') },
    { ...host('c-down', { up: false, cpuCount: 64, gpus: gpus(8) }), specs: specsOf(64, 8, 512, 4000) },
    { ...host('d-never', { up: false }), specs: null },
  ];
  const specs = fleetSpecs(hosts);
  assert.is(specs.cpu.count, 48);
  assert.is(specs.cpu.model, 'AMD EPYC');
  assert.is(specs.gpu.count, 2);
  assert.is(specs.gpu.capacity, 2 * GPU_SPEC.capacity);
  assert.is(specs.gpu.details.length, 2);
  assert.is(specs.ram.total, 192 * GiB);
  assert.is(specs.hard_disk.total, 2000 * GiB);
  assert.equal(specs.docker, { available: true, version: '25.0.0' });
  // b-gpu has the only free GPU: it is the best single host, though a-cpu has more cores.
  assert.equal(specs.free, { cpu: { count: 12 }, gpu: { count: 1 }, ram: { available: 56 * GiB }, hard_disk: { free: 450 * GiB } });
  assert.equal(specs.hosts.map((h) => [h.name, h.up]), [['a-cpu', true], ['b-gpu', true], ['c-down', false], ['d-never', false]]);
  // The test rental's room counts as free: a production rental may take it.
  assert.equal(specs.hosts[0]!.free, { cpu: { count: 32 }, gpu: { count: 0 }, ram: { available: 128 * GiB }, hard_disk: { free: 900 * GiB } });
  assert.equal(specs.hosts[2]!.free, { cpu: { count: 0 }, gpu: { count: 0 }, ram: { available: 0 }, hard_disk: { free: 0 } });
  assert.is(specs.hosts[2]!.gpu.count, 8, 'a host down is listed with its last known hardware');
  assert.is(specs.hosts[3]!.cpu.count, 0);
  assert.equal(Object.keys(specs.hosts[1]!).sort(), ['cpu', 'free', 'gpu', 'hard_disk', 'name', 'ram', 'up']);
  // The top level is still a Specs reply an older client reads; each entry has the same shapes.
  assert.ok(specsOutputSchema.safeParse(specs).success);
  for (const entry of specs.hosts) assert.ok(specsOutputSchema.safeParse({ ...entry, docker: specs.docker }).success, entry.name);
});

test('fleetSpecs: a fleet with every host down still answers, with nothing free', () => {
  const specs = fleetSpecs([{ ...host('a', { up: false }), specs: specsOf(4, 0, 8, 100) }]);
  assert.is(specs.cpu.count, 0);
  assert.equal(specs.docker, { available: false, version: '' });
  assert.equal(specs.free.cpu, { count: 0 });
  assert.is(specs.hosts.length, 1);
});

test.run();
