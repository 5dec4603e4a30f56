// Pure placement over a fleet: which host takes a new rental, which cores (a cpuset) and which
// GPUs (DeviceIDs) it gets, and which test rentals a production rental ends to make room; or a
// refusal that says what is short. No I/O: the caller holds the set of rentals, asks, then
// records the rental before it awaits anything, so concurrent requests never share a core.
//
// The rule (README.md explains why): a host that is up and fits the whole request; among those
// the best fit, the one left with the least free room, compared GPUs first, then cores, memory,
// disk, and ties by host name. Within the host, the smallest run of consecutive free cores (and
// GPU indices) that holds the request, else the lowest free ones. Test rentals never end
// another rental; a production rental that fits nowhere may end test rentals on one host, the
// host where it ends the fewest.
import { formatCpuset, parseCpuset } from '../resources/cpuset.js';

export interface HostGpu {
  /** The index Docker's DeviceIDs and nvidia-smi use. */
  index: number;
  name: string;
}

/** A rental already on a host, as the set of rentals records it. */
export interface PlacedRental {
  id: string;
  /** Docker CpusetCpus, e.g. "0-3,6". */
  cpuset: string;
  /** GPU indices it holds. */
  gpus: readonly number[];
  memoryBytes: number;
  diskBytes: number;
  testing: boolean;
}

/** One Docker host as placement sees it. */
export interface HostInventory {
  name: string;
  /** False while its engine does not answer: nothing is placed there. */
  up: boolean;
  cpuCount: number;
  gpus: readonly HostGpu[];
  /** Memory the miner may commit to rentals on this host in total (their limits are summed). */
  memoryBytes: number;
  /** Disk the miner may commit to rentals on this host in total. */
  diskBytes: number;
  rentals: readonly PlacedRental[];
}

export interface PlacementRequest {
  cores: number;
  memoryBytes: number;
  diskBytes: number;
  /** 0 for none, a count, or 'all': every GPU of one host. */
  gpus: number | 'all';
  testing: boolean;
}

export interface PlacementGranted {
  ok: true;
  host: string;
  /** Core numbers, ascending. */
  cores: number[];
  /** The same cores as Docker's HostConfig.CpusetCpus. */
  cpuset: string;
  /** GPU indices, ascending. */
  gpus: number[];
  /** The same GPUs as DeviceRequests[].DeviceIDs. */
  deviceIds: string[];
  /** Ids of the test rentals to end first (on the same host); empty when none. */
  endTesting: string[];
}

export interface PlacementRefused {
  ok: false;
  reason: string;
}

export type Placement = PlacementGranted | PlacementRefused;

/** What is free on a host: core numbers and GPU indices ascending, bytes never below 0. */
export interface Room {
  cores: number[];
  gpus: number[];
  memoryBytes: number;
  diskBytes: number;
}

/**
 * Free room on a host. Rentals in `ignore` count as gone (a production rental weighing which test
 * rentals to end); a rental whose cpuset does not read holds every core, so no core is ever given twice.
 */
export function freeRoom(host: HostInventory, ignore: (rental: PlacedRental) => boolean = () => false): Room {
  const busyCores = new Uint8Array(Math.max(0, host.cpuCount));
  const busyGpus = new Set<number>();
  let memory = host.memoryBytes;
  let disk = host.diskBytes;
  for (const rental of host.rentals) {
    if (ignore(rental)) continue;
    const cores = parseCpuset(rental.cpuset);
    if (cores === null) busyCores.fill(1);
    else for (const core of cores) if (core < busyCores.length) busyCores[core] = 1;
    for (const gpu of rental.gpus) busyGpus.add(gpu);
    memory -= rental.memoryBytes;
    disk -= rental.diskBytes;
  }
  const cores: number[] = [];
  for (let core = 0; core < busyCores.length; core++) if (!busyCores[core]) cores.push(core);
  const gpus = host.gpus.map((g) => g.index).filter((i) => !busyGpus.has(i)).sort((a, b) => a - b);
  return { cores, gpus, memoryBytes: Math.max(0, memory), diskBytes: Math.max(0, disk) };
}

/** How much is free on a host, without the lists: what a decision weighs for every host. */
export interface RoomCounts {
  cores: number;
  gpus: number;
  memoryBytes: number;
  diskBytes: number;
}

/** Cpusets read so far, as 32-core bit words; the same few strings recur on every decision. */
const cpusetWords = new Map<string, Uint32Array | null>();
/** Most cpusets remembered; past it the memo starts again (a memo, never a source of truth). */
export const CPUSET_MEMO_ENTRIES = 65536;

function wordsOf(cpuset: string): Uint32Array | null {
  let words = cpusetWords.get(cpuset);
  if (words !== undefined) return words;
  const cores = parseCpuset(cpuset);
  if (cores === null) words = null;
  else {
    words = new Uint32Array(cores.length ? (cores[cores.length - 1]! >> 5) + 1 : 0);
    for (const core of cores) words[core >> 5]! |= 1 << (core & 31);
  }
  if (cpusetWords.size >= CPUSET_MEMO_ENTRIES) cpusetWords.clear();
  cpusetWords.set(cpuset, words);
  return words;
}

function bitCount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** freeRoom's counts, exactly, at a fraction of its cost (bit words instead of lists). */
export function roomCounts(host: HostInventory, ignore?: (rental: PlacedRental) => boolean): RoomCounts {
  return countRooms(host, ignore, false).all;
}

/** Running totals of what a host's rentals hold (bit words of cores, GPU bits, bytes). */
interface Tally {
  busy: Uint32Array;
  allBusy: boolean;
  gpuBits: number;
  /** GPU indices past 31, rare enough for a Set. */
  gpuSet: Set<number> | null;
  memory: number;
  disk: number;
}

function newTally(host: HostInventory, words: number): Tally {
  return { busy: new Uint32Array(words), allBusy: false, gpuBits: 0, gpuSet: null, memory: host.memoryBytes, disk: host.diskBytes };
}

function copyTally(t: Tally): Tally {
  return { busy: t.busy.slice(), allBusy: t.allBusy, gpuBits: t.gpuBits, gpuSet: t.gpuSet ? new Set(t.gpuSet) : null, memory: t.memory, disk: t.disk };
}

function addRental(t: Tally, rental: PlacedRental, cores: Uint32Array | null): void {
  if (cores === null) t.allBusy = true;
  else {
    const n = Math.min(cores.length, t.busy.length);
    for (let w = 0; w < n; w++) t.busy[w]! |= cores[w]!;
  }
  const gpus = rental.gpus;
  for (let i = 0; i < gpus.length; i++) {
    const gpu = gpus[i]!;
    if (gpu >= 0 && gpu < 32) t.gpuBits |= 1 << gpu;
    else (t.gpuSet ??= new Set()).add(gpu);
  }
  t.memory -= rental.memoryBytes;
  t.disk -= rental.diskBytes;
}

function tallyCounts(t: Tally, host: HostInventory, cpuCount: number): RoomCounts {
  let taken = 0;
  if (t.allBusy) taken = cpuCount;
  else {
    const words = t.busy.length;
    // Bits past the host's last core (a cpuset naming cores it does not have) are not its cores.
    const tail = cpuCount & 31;
    if (tail) t.busy[words - 1]! &= (1 << tail) - 1;
    for (let w = 0; w < words; w++) taken += bitCount(t.busy[w]!);
  }
  let gpus = 0;
  for (const g of host.gpus) {
    const held = g.index >= 0 && g.index < 32 ? (t.gpuBits >>> g.index) & 1 : t.gpuSet?.has(g.index) ? 1 : 0;
    if (!held) gpus++;
  }
  return { cores: cpuCount - taken, gpus, memoryBytes: Math.max(0, t.memory), diskBytes: Math.max(0, t.disk) };
}

/**
 * One pass over a host's rentals giving two views: everything counted (`all`), and, when
 * `production`, test rentals counted as free (what a production rental could have by ending them).
 */
export function countRooms(host: HostInventory, ignore: ((rental: PlacedRental) => boolean) | undefined, production: boolean): { all: RoomCounts; production: RoomCounts } {
  const cpuCount = Math.max(0, host.cpuCount);
  const all = newTally(host, (cpuCount + 31) >> 5);
  // The production view splits off at the first test rental; until then it is the full one.
  let prod: Tally | null = null;
  for (const rental of host.rentals) {
    if (ignore && ignore(rental)) continue;
    const cores = wordsOf(rental.cpuset);
    if (production && rental.testing && prod === null) prod = copyTally(all);
    addRental(all, rental, cores);
    if (prod !== null && !rental.testing) addRental(prod, rental, cores);
  }
  const allCounts = tallyCounts(all, host, cpuCount);
  return { all: allCounts, production: prod ? tallyCounts(prod, host, cpuCount) : allCounts };
}

/** Why the request itself is impossible, or null. */
function requestProblem(req: PlacementRequest): string | null {
  if (!Number.isSafeInteger(req.cores) || req.cores < 1) return 'invalid request: cores must be an integer ≥ 1';
  if (!Number.isSafeInteger(req.memoryBytes) || req.memoryBytes < 0) return 'invalid request: memory must be an integer number of bytes ≥ 0';
  if (!Number.isSafeInteger(req.diskBytes) || req.diskBytes < 0) return 'invalid request: disk must be an integer number of bytes ≥ 0';
  if (req.gpus !== 'all' && (!Number.isSafeInteger(req.gpus) || req.gpus < 0)) return 'invalid request: gpus must be an integer ≥ 0 or "all"';
  return null;
}

function gpusWanted(req: PlacementRequest, host: HostInventory): number {
  return req.gpus === 'all' ? host.gpus.length : req.gpus;
}

function fits(room: RoomCounts, req: PlacementRequest, host: HostInventory): boolean {
  if (room.cores < req.cores || room.memoryBytes < req.memoryBytes || room.diskBytes < req.diskBytes) return false;
  // 'all' is a whole host's GPUs: a host without any cannot serve it, nor one with any taken.
  if (req.gpus === 'all') return host.gpus.length > 0 && room.gpus === host.gpus.length;
  return room.gpus >= req.gpus;
}

/** Free room left after the request, for best-fit: GPUs, cores, memory, disk (lower is a tighter fit). */
function leftover(room: RoomCounts, req: PlacementRequest, host: HostInventory): number[] {
  return [room.gpus - gpusWanted(req, host), room.cores - req.cores, room.memoryBytes - req.memoryBytes, room.diskBytes - req.diskBytes];
}

function compareTuples(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * `count` of the free numbers (ascending): the first ones of the shortest run of consecutive
 * numbers that holds them all (lowest such run on a tie), else the lowest free ones. Taking from
 * the shortest run keeps long runs whole for larger rentals.
 */
export function pickRun(free: readonly number[], count: number): number[] {
  if (count <= 0) return [];
  let best = -1;
  let bestLength = Infinity;
  for (let i = 0; i < free.length;) {
    let j = i;
    while (j + 1 < free.length && free[j + 1] === free[j]! + 1) j++;
    const length = j - i + 1;
    if (length >= count && length < bestLength) {
      best = i;
      bestLength = length;
    }
    i = j + 1;
  }
  return best >= 0 ? free.slice(best, best + count) : free.slice(0, count);
}

function grant(host: HostInventory, req: PlacementRequest, endTesting: string[]): PlacementGranted {
  const ended = new Set(endTesting);
  const room = freeRoom(host, (r) => ended.has(r.id));
  const cores = pickRun(room.cores, req.cores);
  const gpus = req.gpus === 'all' ? [...room.gpus] : pickRun(room.gpus, req.gpus);
  return { ok: true, host: host.name, cores, cpuset: formatCpuset(cores), gpus, deviceIds: gpus.map(String), endTesting };
}

/**
 * The fewest test rentals on `host` whose end makes room for `req`, or null when ending all of
 * them is not enough. Greedy from the largest (GPUs, cores, memory, disk), then every one not
 * needed is kept: no rental in the answer can be spared.
 */
function testRentalsToEnd(host: HostInventory, req: PlacementRequest): { ended: string[]; room: RoomCounts } | null {
  const tests = host.rentals.filter((r) => r.testing);
  if (tests.length === 0 || !fits(roomCounts(host, (r) => r.testing), req, host)) return null;
  const size = (r: PlacedRental) => [r.gpus.length, parseCpuset(r.cpuset)?.length ?? host.cpuCount, r.memoryBytes, r.diskBytes];
  const order = [...tests].sort((a, b) => compareTuples(size(b), size(a)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const ended = new Set<string>();
  const roomWithout = () => roomCounts(host, (r) => ended.has(r.id));
  let room = roomWithout();
  for (const rental of order) {
    if (fits(room, req, host)) break;
    ended.add(rental.id);
    room = roomWithout();
  }
  if (!fits(room, req, host)) return null;
  for (const rental of [...order].reverse()) {
    if (!ended.has(rental.id)) continue;
    ended.delete(rental.id);
    const kept = roomWithout();
    if (fits(kept, req, host)) room = kept;
    else ended.add(rental.id);
  }
  room = roomWithout();
  return { ended: order.filter((r) => ended.has(r.id)).map((r) => r.id), room };
}

/** Where a new rental goes, or why it cannot go anywhere now. */
export function place(hosts: readonly HostInventory[], req: PlacementRequest): Placement {
  const invalid = requestProblem(req);
  if (invalid) return { ok: false, reason: invalid };
  const up = hosts.filter((h) => h.up);
  if (up.length === 0) return { ok: false, reason: hosts.length === 0 ? 'no host to place a rental on' : `no host is up (${hosts.length} down)` };

  let best: { host: HostInventory; score: number[] } | null = null;
  // What each host would have with its test rentals ended, kept for the next steps.
  const reclaimable: RoomCounts[] = [];
  for (const host of up) {
    const rooms = countRooms(host, undefined, !req.testing);
    reclaimable.push(rooms.production);
    const room = rooms.all;
    if (!fits(room, req, host)) continue;
    const score = leftover(room, req, host);
    const order = best ? compareTuples(score, best.score) : -1;
    if (order < 0 || (order === 0 && host.name < best!.host.name)) best = { host, score };
  }
  if (best) return grant(best.host, req, []);

  // Test rentals give way to production only, never to other tests.
  if (!req.testing) {
    let displace: { host: HostInventory; ended: string[]; score: number[] } | null = null;
    for (const [i, host] of up.entries()) {
      if (!fits(reclaimable[i]!, req, host)) continue;
      const found = testRentalsToEnd(host, req);
      if (!found) continue;
      const score = [found.ended.length, ...leftover(found.room, req, host)];
      const order = displace ? compareTuples(score, displace.score) : -1;
      if (order < 0 || (order === 0 && host.name < displace!.host.name)) displace = { host, ended: found.ended, score };
    }
    if (displace) return grant(displace.host, req, displace.ended);
  }
  return { ok: false, reason: refusal(hosts, up, req.testing ? null : reclaimable, req) };
}

export interface FitAnswer {
  fits: boolean;
  /** Where it would go, when it fits. */
  host?: string;
  /** How many test rentals an allocation would end to make room. */
  endsTesting?: number;
  /** What is short, when it does not fit. */
  reason?: string;
}

/** The `checking` case: would this request's own resources be placed now? Nothing changes. */
export function checkFits(hosts: readonly HostInventory[], req: PlacementRequest): FitAnswer {
  const placement = place(hosts, req);
  return placement.ok
    ? { fits: true, host: placement.host, endsTesting: placement.endTesting.length }
    : { fits: false, reason: placement.reason };
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** "8 GiB (8589934592 bytes)": readable, and exact for a client that compares numbers. */
export function formatBytes(bytes: number): string {
  const unit = bytes >= GiB ? `${+(bytes / GiB).toFixed(1)} GiB` : `${+(bytes / MiB).toFixed(1)} MiB`;
  return `${unit} (${bytes} bytes)`;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** What is short, dimension by dimension, over the hosts that are up (counting test rentals as room for production). */
function refusal(hosts: readonly HostInventory[], up: readonly HostInventory[], reclaimable: readonly RoomCounts[] | null, req: PlacementRequest): string {
  const rooms = up.map((host, i) => ({ host, room: reclaimable ? reclaimable[i]! : roomCounts(host) }));
  const max = (of: (r: RoomCounts) => number) => rooms.reduce((m, { room }) => Math.max(m, of(room)), 0);
  const short: string[] = [];
  const cores = max((r) => r.cores);
  if (req.cores > cores) short.push(`insufficient CPU: ${plural(req.cores, 'core', 'cores')} requested, the largest free on one host is ${cores}`);
  const memory = max((r) => r.memoryBytes);
  if (req.memoryBytes > memory) short.push(`insufficient memory: ${formatBytes(req.memoryBytes)} requested, the largest free on one host is ${formatBytes(memory)}`);
  const disk = max((r) => r.diskBytes);
  if (req.diskBytes > disk) short.push(`insufficient disk: ${formatBytes(req.diskBytes)} requested, the largest free on one host is ${formatBytes(disk)}`);
  if (req.gpus !== 0) {
    const withGpus = rooms.filter(({ host }) => host.gpus.length > 0);
    if (withGpus.length === 0) short.push('no GPU on any host that is up: a GPU request cannot be served');
    else if (req.gpus === 'all') {
      if (!withGpus.some(({ host, room }) => room.gpus === host.gpus.length)) short.push('insufficient GPU: all GPUs of one host requested, no host has all of its GPUs free');
    } else {
      const gpus = max((r) => r.gpus);
      if (req.gpus > gpus) short.push(`insufficient GPU: ${plural(req.gpus, 'GPU', 'GPUs')} requested, the largest free on one host is ${gpus}`);
    }
  }
  if (short.length === 0) {
    const gpuText = req.gpus === 'all' ? ', all GPUs' : req.gpus > 0 ? `, ${plural(req.gpus, 'GPU', 'GPUs')}` : '';
    short.push(`no single host has it all free at once: ${plural(req.cores, 'core', 'cores')}, ${formatBytes(req.memoryBytes)} memory, ${formatBytes(req.diskBytes)} disk${gpuText}; each is free on some host, not together`);
  }
  const down = hosts.length - up.length;
  return short.join('; ') + (down > 0 ? ` (${plural(down, 'host', 'hosts')} down)` : '');
}
