// bench axon: N validator connections (each its own hotkey) sending signed Specs round trips
// over loopback to an axon in a child process, the client verifying every reply; and, in the
// same run, the ceiling: how many round trips' worth of signature work (client sign, axon
// verify, axon sign, client verify) this machine's cores do per second with nothing else;
// and the bare floor (bench/axon-bare.ts): the same round trip with only the wire work.
// Beside them, client and axon on Node's built-in Ed25519 instead of libsodium, with that
// implementation's own ceiling: the two signature paths compared in one run.
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  ed25519Named,
  encode,
  generateHotkey,
  hotkeyFromSeed,
  nodeEd25519,
  replySigningMessage,
  requestSigningMessage,
  specsRequestSchema,
  useEd25519,
  verifyKey,
} from '../protocol/index.js';
import { silentLogger } from '../src/log.js';
import { createAxon } from '../src/axon/server.js';
import type { SynapsePlugin } from '../src/axon/synapse.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { BARE_SERVER_FILE, BareClient } from './axon-bare.js';
import { registerBench } from './registry.js';
import { percentile, writeSection } from './results.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const CONNECTION_COUNTS = [1, 16, 64];
const WARMUP_MS = 1_000;
const WINDOW_MS = 2_000;
const WINDOWS = 4;
const CEILING_MS = 3_000;

// A Specs-like answer, computed once: the bench measures the axon, not hardware probing.
const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null) for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
};
const CACHED_SPECS = deepFreeze({
  specs_output: {
    cpu: { count: 2, frequency: 2400, vendor: 'GenuineIntel', model: 'bench' },
    gpu: { count: 0, capacity: 0, details: [] },
    hard_disk: { total: 100e9, free: 50e9, used: 50e9 },
    ram: { total: 8e9, available: 6e9, used: 2e9, free: 6e9 },
    docker: { available: true, version: '20.10' },
  },
});

/** Child process: an axon with a trivial cached Specs plugin, its port sent back over IPC. */
async function serveAxon(seedHex: string): Promise<void> {
  useEd25519(ed25519Named(process.env.COMPUTE_MINER_ED25519 ?? 'libsodium'));
  const plugin: SynapsePlugin = { name: 'Specs', schema: specsRequestSchema, concurrency: 1024, forward: async () => CACHED_SPECS };
  const axon = createAxon({
    hotkey: hotkeyFromSeed(Buffer.from(seedHex, 'hex')),
    host: '127.0.0.1',
    port: 0,
    plugins: [plugin],
    access: { allowAny: true, allow: new Map(), deny: new Set(), minStake: 0 },
    // The bench drives one hotkey far beyond a validator's rate; the other limits stay default.
    limits: { ratePerSecond: 1e9, rateBurst: 1e9 },
    log: silentLogger(),
  });
  const { port } = await axon.listen();
  process.send!({ port });
  // The parent asks for this process's CPU time around each measurement.
  process.on('message', (m: { cpu?: boolean }) => {
    if (m.cpu) process.send!({ cpu: process.cpuUsage() });
  });
  process.on('disconnect', () => void axon.close().then(() => process.exit(0)));
}

type Implementation = 'libsodium' | 'node';

/** Worker thread: once told to go, signature work of whole round trips for CEILING_MS. */
function ceilingWorker(name: Implementation): void {
  const { sign, verify } = ed25519Named(name);
  const validator = generateHotkey();
  const miner = generateHotkey();
  const validatorKey = verifyKey(validator.publicKey);
  const minerKey = verifyKey(miner.publicKey);
  const body = encode({});
  const replyBody = encode(CACHED_SPECS);
  parentPort!.once('message', () => {
    const until = Date.now() + CEILING_MS;
    let rounds = 0;
    while (Date.now() < until) {
      for (let i = 0; i < 20; i++) {
        const nonce = Date.now() * 1000 + i;
        const request = requestSigningMessage({ nonce, dendriteHotkey: validator.ss58Address, axonHotkey: miner.ss58Address, uuid: 'bench', name: 'Specs', body });
        const requestSignature = sign(validator.signingKey, request);
        if (!verify(validatorKey, request, requestSignature)) throw new Error('request signature');
        const reply = replySigningMessage({ axonNonce: nonce, axonHotkey: miner.ss58Address, dendriteHotkey: validator.ss58Address, uuid: 'bench', id: i, code: 200, body: replyBody });
        const replySignature = sign(miner.signingKey, reply);
        if (!verify(minerKey, reply, replySignature)) throw new Error('reply signature');
        rounds++;
      }
    }
    parentPort!.postMessage({ rounds });
  });
  parentPort!.postMessage({ ready: true });
}

interface Ceiling {
  perSecond: number;
  /** CPU microseconds of signature work per round trip. */
  cpuMicros: number;
}

/** Starts one worker per core, and counts only the signature loops (not worker start-up) in time and CPU. */
async function measureCeiling(cores: number, name: Implementation): Promise<Ceiling> {
  const workers = Array.from({ length: cores }, () => new Worker(THIS_FILE, { workerData: { axonCeiling: name } }));
  try {
    const next = (w: Worker) =>
      new Promise<{ ready?: boolean; rounds?: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    await Promise.all(workers.map(next));
    const cpu = process.cpuUsage();
    const began = performance.now();
    const done = workers.map(next);
    for (const w of workers) w.postMessage('go');
    const rounds = (await Promise.all(done)).reduce((sum, m) => sum + (m.rounds ?? 0), 0);
    const seconds = (performance.now() - began) / 1000;
    const used = process.cpuUsage(cpu);
    return { perSecond: rounds / seconds, cpuMicros: (used.user + used.system) / rounds };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function childCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (m: { cpu?: NodeJS.CpuUsage }) => {
      if (!m.cpu) return;
      child.off('message', onMessage);
      resolve(m.cpu.user + m.cpu.system);
    };
    child.on('message', onMessage);
    child.send({ cpu: true });
  });
}

interface Child {
  child: ChildProcess;
  port: number;
  hotkey: string;
}

/** Forks a server process (the axon, or the bare floor) and waits for its port. */
async function startChild(file: string, args: string[], seed: Buffer, signatures: Implementation = 'libsodium'): Promise<Child> {
  const env = { ...process.env, COMPUTE_MINER_ED25519: signatures };
  const child = fork(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`bench server ${file} exited with ${code}`)));
  });
  return { child, port, hotkey: hotkeyFromSeed(seed).ss58Address };
}

async function stopChild({ child }: Child): Promise<void> {
  child.disconnect();
  await new Promise((r) => child.once('exit', r));
}

/** What runWindow() needs of a connection: one signed round trip at a time. */
interface RoundTripper {
  call(): Promise<{ code: number; latencyMs: number }>;
  close(): Promise<void>;
}

interface LoadResult {
  connections: number;
  perSecond: number;
  p50: number;
  p99: number;
  failures: number;
  /** CPU microseconds per round trip: the client's and the server's. */
  clientCpu: number;
  axonCpu: number;
}

/** One server's measurements at one connection count, pooled over its windows. */
class Load {
  private readonly latencies: number[] = [];
  private seconds = 0;
  private failures = 0;
  private clientCpu = 0;
  private serverCpu = 0;

  add(latencies: number[], seconds: number, failures: number, clientCpu: number, serverCpu: number): void {
    for (const l of latencies) this.latencies.push(l);
    this.seconds += seconds;
    this.failures += failures;
    this.clientCpu += clientCpu;
    this.serverCpu += serverCpu;
  }

  result(connections: number): LoadResult {
    const count = this.latencies.length;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      connections,
      perSecond: count / this.seconds,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      failures: this.failures,
      clientCpu: this.clientCpu / count,
      axonCpu: this.serverCpu / count,
    };
  }
}

/** Keeps every client busy for `ms`; with `into`, counts the window (else it only warms up). */
async function runWindow(child: ChildProcess, clients: RoundTripper[], ms: number, into?: Load): Promise<void> {
  const latencies: number[] = [];
  let failures = 0;
  let stop = false;
  const serverCpuBefore = into ? await childCpu(child) : 0;
  const clientCpuBefore = process.cpuUsage();
  const began = performance.now();
  const loops = clients.map(async (c) => {
    while (!stop) {
      try {
        const reply = await c.call();
        if (reply.code !== 200) failures++;
        else if (!stop) latencies.push(reply.latencyMs);
      } catch {
        failures++;
      }
    }
  });
  await new Promise((r) => setTimeout(r, ms));
  stop = true;
  const seconds = (performance.now() - began) / 1000;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const serverCpu = into ? (await childCpu(child)) - serverCpuBefore : 0;
  await Promise.all(loops);
  into?.add(latencies, seconds, failures, clientCpu.user + clientCpu.system, serverCpu);
}

async function dendrites(server: Child, connections: number): Promise<RoundTripper[]> {
  const url = `ws://127.0.0.1:${server.port}`;
  const list = Array.from({ length: connections }, () => new Dendrite({ hotkey: generateHotkey(), url, axonHotkey: server.hotkey }));
  await Promise.all(list.map((d) => d.connect()));
  return list.map((d) => ({ call: () => d.call('Specs', {}), close: () => d.close() }));
}

async function bareClients(server: Child, connections: number): Promise<RoundTripper[]> {
  const list = Array.from({ length: connections }, () => new BareClient(`ws://127.0.0.1:${server.port}`, generateHotkey(), server.hotkey));
  await Promise.all(list.map((c) => c.connect()));
  return list;
}

type Row = LoadResult & { ceiling: Ceiling; bare: LoadResult; node: LoadResult; nodeCeiling: Ceiling };

/** Runs the row's windows with Node's built-in Ed25519 in this (client) process too. */
async function withNodeSignatures<T>(work: () => Promise<T>): Promise<T> {
  useEd25519(nodeEd25519);
  try {
    return await work();
  } finally {
    useEd25519(ed25519Named('libsodium'));
  }
}

/** The higher of two ceilings: a busy moment of the machine then lowers the ratio rather than flattering it. */
const higher = (a: Ceiling, b: Ceiling): Ceiling => (a.perSecond >= b.perSecond ? a : b);

async function runBench(): Promise<void> {
  const cores = availableParallelism();
  const loadBefore = loadavg()[0]!;
  useEd25519(ed25519Named('libsodium'));
  const axonSeed = generateHotkey().seed;
  const nodeSeed = generateHotkey().seed;
  const bareSeed = generateHotkey().seed;
  const axon = await startChild(THIS_FILE, ['--serve-axon', axonSeed.toString('hex')], axonSeed);
  const nodeAxon = await startChild(THIS_FILE, ['--serve-axon', nodeSeed.toString('hex')], nodeSeed, 'node');
  const bare = await startChild(BARE_SERVER_FILE, ['--serve-bare', bareSeed.toString('hex'), encode(CACHED_SPECS).toString('hex')], bareSeed);
  // Other work on a shared machine moves every figure, so the ceilings are measured right
  // before and right after each row and the higher one is that row's ceiling. CPU time per
  // round trip is reported too: it moves much less with other load than rates do.
  const rows: Row[] = [];
  try {
    let before = await measureCeiling(cores, 'libsodium');
    let nodeBefore = await measureCeiling(cores, 'node');
    for (const connections of CONNECTION_COUNTS) {
      // The three servers take turns in short windows, so a busy moment of the machine
      // falls on all of them rather than on one.
      const axonClients = await dendrites(axon, connections);
      const nodeClients = await dendrites(nodeAxon, connections);
      const floorClients = await bareClients(bare, connections);
      await runWindow(axon.child, axonClients, WARMUP_MS);
      await withNodeSignatures(() => runWindow(nodeAxon.child, nodeClients, WARMUP_MS));
      await runWindow(bare.child, floorClients, WARMUP_MS);
      const axonLoad = new Load();
      const nodeLoad = new Load();
      const floorLoad = new Load();
      for (let i = 0; i < WINDOWS; i++) {
        await runWindow(axon.child, axonClients, WINDOW_MS, axonLoad);
        await withNodeSignatures(() => runWindow(nodeAxon.child, nodeClients, WINDOW_MS, nodeLoad));
        await runWindow(bare.child, floorClients, WINDOW_MS, floorLoad);
      }
      await Promise.all([...axonClients, ...nodeClients, ...floorClients].map((c) => c.close()));
      const r = axonLoad.result(connections);
      const node = nodeLoad.result(connections);
      const floor = floorLoad.result(connections);
      const after = await measureCeiling(cores, 'libsodium');
      const nodeAfter = await measureCeiling(cores, 'node');
      const ceiling = higher(before, after);
      const nodeCeiling = higher(nodeBefore, nodeAfter);
      before = after;
      nodeBefore = nodeAfter;
      rows.push({ ...r, ceiling, bare: floor, node, nodeCeiling });
      process.stdout.write(
        `${connections} connections: ${r.perSecond.toFixed(0)} round trips/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms; ` +
          `libsodium ceiling ${ceiling.perSecond.toFixed(0)}/s on ${cores} cores → ${((100 * r.perSecond) / ceiling.perSecond).toFixed(0)}%; ` +
          `bare ${floor.perSecond.toFixed(0)}/s (p99 ${floor.p99.toFixed(2)} ms) → axon keeps ${((100 * r.perSecond) / floor.perSecond).toFixed(0)}%; ` +
          `Node built-in: axon ${node.perSecond.toFixed(0)}/s (p99 ${node.p99.toFixed(2)} ms), ceiling ${nodeCeiling.perSecond.toFixed(0)}/s; ` +
          `CPU/round trip client ${r.clientCpu.toFixed(0)} µs + axon ${r.axonCpu.toFixed(0)} µs vs signatures ${ceiling.cpuMicros.toFixed(0)} µs; ` +
          `${r.failures + floor.failures + node.failures} failures\n`,
      );
    }
  } finally {
    await stopChild(axon);
    await stopChild(nodeAxon);
    await stopChild(bare);
  }
  const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
  const product = rows.map((r) =>
    [
      r.connections,
      r.perSecond.toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      r.ceiling.perSecond.toFixed(0),
      pct(r.perSecond, r.ceiling.perSecond),
      `${r.bare.perSecond.toFixed(0)} (${pct(r.bare.perSecond, r.ceiling.perSecond)})`,
      r.bare.p99.toFixed(2),
      pct(r.perSecond, r.bare.perSecond),
      `${r.clientCpu.toFixed(0)} + ${r.axonCpu.toFixed(0)}`,
      `${r.ceiling.cpuMicros.toFixed(0)} (${pct(r.ceiling.cpuMicros, r.clientCpu + r.axonCpu)})`,
      r.failures + r.bare.failures,
    ].join(' | '),
  );
  const sideBySide = rows.map((r) =>
    [
      r.connections,
      `${r.perSecond.toFixed(0)} / ${r.p99.toFixed(2)}`,
      `${r.node.perSecond.toFixed(0)} / ${r.node.p99.toFixed(2)}`,
      `${(r.perSecond / r.node.perSecond).toFixed(2)}×`,
      r.nodeCeiling.perSecond.toFixed(0),
      pct(r.node.perSecond, r.nodeCeiling.perSecond),
      pct(r.perSecond, r.nodeCeiling.perSecond),
      `${r.node.clientCpu.toFixed(0)} + ${r.node.axonCpu.toFixed(0)}`,
      r.nodeCeiling.cpuMicros.toFixed(0),
      r.node.failures,
    ].join(' | '),
  );
  writeSection(
    'axon',
    [
      'Signed Specs round trips over loopback: the axon in a child process with a cached Specs plugin,',
      'one dendrite per connection (each its own hotkey, one request in flight), every reply verified.',
      'Signatures: libsodium (sodium-native), the product\'s default, in client and axon.',
      'Ceiling: round trips/s of the signature work alone (client sign, axon verify, axon sign, client verify)',
      `on ${cores} worker threads, one per core, measured just before and just after each row; the higher is used.`,
      'Bare floor (bench/axon-bare.ts), in the same run: the same signed round trip over the same WebSocket library',
      'with only the wire work (MessagePack, body hash, one signature made and one verified a side) and none of',
      "the axon's checks, queue, limits and metrics or the dendrite's: what any server in this runtime reaches here.",
      'CPU columns: CPU time per round trip of the client and the axon process, and of the signature work alone',
      '(with its share of the total: the fraction of the ceiling an otherwise idle machine would reach).',
      `${WINDOWS} windows of ${WINDOW_MS / 1000} s per server and row, the servers taking turns, after ${WARMUP_MS / 1000} s warm-up;`,
      `1-minute load average ${loadBefore.toFixed(2)} at the start (other work on the machine lowers the rates).`,
      '',
      '| connections | round trips/s | p50 ms | p99 ms | ceiling/s | of ceiling | bare floor/s (of ceiling) | bare p99 ms | axon ÷ bare | CPU µs/rt client + axon | signature CPU µs/rt | failures |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...product.map((row) => `| ${row} |`),
      '',
      'The same axon and dendrite with Node\'s built-in Ed25519 (OpenSSL) in both processes, in the same windows,',
      'against that implementation\'s own ceiling:',
      '',
      '| connections | libsodium rt/s / p99 ms | Node built-in rt/s / p99 ms | libsodium ÷ Node | Node ceiling/s | Node axon of Node ceiling | libsodium axon of Node ceiling | CPU µs/rt client + axon (Node) | Node signature CPU µs/rt | failures (Node) |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...sideBySide.map((row) => `| ${row} |`),
      '',
      'Command: `npm run bench -- axon`',
    ].join('\n'),
  );
}

const ceilingOf = isMainThread ? undefined : (workerData as { axonCeiling?: Implementation } | null)?.axonCeiling;
if (ceilingOf) {
  ceilingWorker(ceilingOf);
} else if (process.argv[1] === THIS_FILE && process.argv[2] === '--serve-axon') {
  await serveAxon(process.argv[3]!);
} else {
  registerBench('axon', runBench);
}
