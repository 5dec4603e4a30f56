// Floods of the axon as an attacker sends them, for the flood tests and bench/axon-flood:
// the axon runs in a child process (its CPU time and RSS are its own), the flooders in a
// worker thread (their own event loop), and an allowed validator probes from the caller's
// thread with the product's Dendrite, each probe on a fresh connection.
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { decode, encode, generateHotkey, hotkeyFromSeed, specsRequestSchema, type Hotkey } from '../../protocol/index.js';
import { createLogger, silentLogger } from '../../src/log.js';
import type { AxonLimits } from '../../src/axon/limits.js';
import { createAxon } from '../../src/axon/server.js';
import type { SynapsePlugin } from '../../src/axon/synapse.js';
import { Dendrite } from '../../src/validator/dendrite.js';
import { signedEnvelope } from './axon.js';

const THIS_FILE = fileURLToPath(import.meta.url);

// A Specs-like answer, computed once: floods measure the axon, not hardware probing.
const CACHED_SPECS = Object.freeze({ specs_output: Object.freeze({ cpu: Object.freeze({ count: 2, frequency: 2400, vendor: 'flood', model: 'flood' }) }) });

export interface FloodAxonConfig {
  /** Seed of the miner's hotkey, hex. */
  seedHex: string;
  /** The allow-list: [ss58, stake]. */
  allow: [string, number][];
  limits?: Partial<AxonLimits>;
  /** false: every signature is checked before access and replay (for measuring the difference). */
  cheapRefusals?: boolean;
  /** Log level of the child's JSON log on its stderr (collected by the parent); 'silent' by default. */
  logLevel?: string;
}

export interface AxonStats {
  rss: number;
  /** CPU microseconds (user + system) since the child started. */
  cpu: number;
  /** The longest the child's event loop was held, ms, since the previous stats() (or the start). */
  loopDelayMaxMs: number;
}

export interface FloodAxon {
  port: number;
  url: string;
  hotkey: string;
  stats(): Promise<AxonStats>;
  metrics(): Promise<string>;
  /** What the child has written to its log so far (JSON lines). */
  log(): string;
  stop(): Promise<void>;
}

/** Child process: an allow-list axon with a cached Specs plugin; port, RSS and CPU over IPC. */
async function serveFloodAxon(config: FloodAxonConfig): Promise<void> {
  const plugin: SynapsePlugin = { name: 'Specs', schema: specsRequestSchema, concurrency: 64, forward: async () => CACHED_SPECS };
  const log = config.logLevel && config.logLevel !== 'silent' ? createLogger({ level: config.logLevel, format: 'json' }) : silentLogger();
  const axon = createAxon({
    hotkey: hotkeyFromSeed(Buffer.from(config.seedHex, 'hex')),
    host: '127.0.0.1',
    port: 0,
    plugins: [plugin],
    access: { allowAny: false, allow: new Map(config.allow), deny: new Set(), minStake: 0 },
    limits: config.limits,
    cheapRefusals: config.cheapRefusals,
    log,
  });
  const { port } = await axon.listen();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  process.send!({ port });
  process.on('message', (m: { stats?: boolean }) => {
    if (!m.stats) return;
    const cpu = process.cpuUsage();
    const loopDelayMaxMs = loop.max / 1e6;
    loop.reset();
    process.send!({ stats: { rss: process.memoryUsage().rss, cpu: cpu.user + cpu.system, loopDelayMaxMs } });
  });
  process.on('disconnect', () => void axon.close().then(() => process.exit(0)));
}

export async function startFloodAxon(config: FloodAxonConfig): Promise<FloodAxon> {
  const child: ChildProcess = fork(THIS_FILE, ['--serve-flood-axon', JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let logText = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    // Keep only the tail: a long flood must not grow the parent either.
    logText = (logText + chunk.toString('utf8')).slice(-1_000_000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`flood axon exited with ${code}: ${logText.slice(-2000)}`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    hotkey: hotkeyFromSeed(Buffer.from(config.seedHex, 'hex')).ss58Address,
    stats: () =>
      new Promise((resolve) => {
        const onMessage = (m: { stats?: AxonStats }) => {
          if (!m.stats) return;
          child.off('message', onMessage);
          resolve(m.stats);
        };
        child.on('message', onMessage);
        child.send({ stats: true });
      }),
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    log: () => logText,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.disconnect();
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(force);
      }
    },
  };
}

// --- floods ---

export type FloodKind = 'strangers' | 'replay' | 'fresh';

export interface FloodSpec {
  kind: FloodKind;
  url: string;
  axonHotkey: string;
  /** Open connections the attacker keeps up (each reopened when the axon closes it). */
  connections: number;
  /** strangers: one signed request per connection every this many ms (2000 by default)... */
  intervalMs?: number;
  /** ...or, when true, as fast as the axon takes them (replay and fresh always are). */
  lineRate?: boolean;
  /** replay, fresh: the allowed (low-stake) validator's key that the attacker holds, hex seed. */
  attackerSeedHex?: string;
  /** Source addresses (127.x.y.z) the connections are spread over, round robin. */
  sources?: string[];
}

export interface FloodTally {
  /** Frames sent. */
  sent: number;
  /** Replies by status code. */
  replies: Record<string, number>;
  /** Closes by close code. */
  closes: Record<string, number>;
  /** Connections opened, and attempts that failed to open. */
  opened: number;
  failedToOpen: number;
}

export interface RunningFlood {
  /** Stops every flooding connection and returns what the attacker saw. */
  stop(): Promise<FloodTally>;
}

/** Starts a flood in a worker thread; it runs until stopped. */
export async function startFlood(spec: FloodSpec): Promise<RunningFlood> {
  const worker = new Worker(THIS_FILE, { workerData: { flood: spec } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    stop: () =>
      new Promise<FloodTally>((resolve, reject) => {
        worker.once('message', (tally: FloodTally) => {
          void worker.terminate().then(() => resolve(tally));
        });
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}

/** How many bytes a line-rate sender keeps queued on its socket. */
const LINE_RATE_BUFFER = 256 * 1024;

function runFlood(spec: FloodSpec): void {
  const tally: FloodTally = { sent: 0, replies: {}, closes: {}, opened: 0, failedToOpen: 0 };
  let stopped = false;
  const sockets = new Set<WebSocket>();
  const attacker: Hotkey | undefined = spec.attackerSeedHex ? hotkeyFromSeed(Buffer.from(spec.attackerSeedHex, 'hex')) : undefined;
  // replay: one request, signed once, sent again and again.
  const replayed = spec.kind === 'replay' ? encode(signedEnvelope({ hotkey: attacker!, axonHotkey: spec.axonHotkey, uuid: 'replayed', timeout: 5 })) : undefined;
  let nextId = 1;
  const frameOf = (stranger: Hotkey): Uint8Array => {
    if (replayed) return replayed;
    const hotkey = spec.kind === 'strangers' ? stranger : attacker!;
    return encode(signedEnvelope({ hotkey, axonHotkey: spec.axonHotkey, id: nextId++, uuid: 'flood', timeout: 5 }));
  };

  const keep = async (slot: number): Promise<void> => {
    const stranger = generateHotkey();
    const localAddress = spec.sources?.length ? spec.sources[slot % spec.sources.length] : undefined;
    while (!stopped) {
      const ws = new WebSocket(spec.url, { perMessageDeflate: false, localAddress });
      sockets.add(ws);
      let timer: NodeJS.Timeout | undefined;
      const opened = await new Promise<boolean>((resolve) => {
        ws.once('open', () => resolve(true));
        ws.once('error', () => resolve(false));
      });
      if (opened) {
        tally.opened++;
        ws.on('error', () => {});
        ws.on('message', (data: Buffer) => {
          const code = String((decode(data) as { status?: { code?: number } }).status?.code);
          tally.replies[code] = (tally.replies[code] ?? 0) + 1;
        });
        const send = () => {
          if (ws.readyState !== WebSocket.OPEN) return;
          ws.send(frameOf(stranger));
          tally.sent++;
        };
        if (spec.kind === 'strangers' && !spec.lineRate) {
          send();
          timer = setInterval(send, spec.intervalMs ?? 2000);
        } else {
          const pump = () => {
            if (stopped || ws.readyState !== WebSocket.OPEN) return;
            for (let i = 0; i < 64 && ws.bufferedAmount < LINE_RATE_BUFFER; i++) send();
            setImmediate(pump);
          };
          pump();
        }
        const code = await new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
        tally.closes[String(code)] = (tally.closes[String(code)] ?? 0) + 1;
      } else {
        tally.failedToOpen++;
        ws.terminate();
      }
      if (timer) clearInterval(timer);
      sockets.delete(ws);
      if (!stopped) await new Promise((r) => setTimeout(r, opened ? 10 : 50));
    }
  };

  const loops = Array.from({ length: spec.connections }, (_, slot) => keep(slot));
  parentPort!.once('message', () => {
    stopped = true;
    for (const ws of sockets) ws.terminate();
    void Promise.all(loops).then(() => parentPort!.postMessage(tally));
  });
  parentPort!.postMessage('started');
}

// --- the allowed validator's probes ---

export interface ProbeResult {
  ok: boolean;
  /** Milliseconds to open the connection, and for the whole probe (open + signed round trip). */
  openMs: number;
  totalMs: number;
  code?: number;
  error?: string;
}

/**
 * `count` Specs requests of `hotkey`, each on a fresh connection, `gapMs` apart (after the
 * previous one ends); a probe succeeds when a verified 200 arrives within `timeoutMs`.
 */
export async function probe(url: string, axonHotkey: string, hotkey: Hotkey, count: number, gapMs: number, timeoutMs = 5000): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  for (let i = 0; i < count; i++) {
    const dendrite = new Dendrite({ hotkey, url, axonHotkey, timeoutMs });
    const began = performance.now();
    let openMs = NaN;
    try {
      await dendrite.connect();
      openMs = performance.now() - began;
      const reply = await dendrite.call('Specs', {}, { timeoutSeconds: timeoutMs / 1000 });
      const totalMs = performance.now() - began;
      results.push({ ok: reply.code === 200 && totalMs <= timeoutMs, openMs, totalMs, code: reply.code });
    } catch (err) {
      results.push({ ok: false, openMs, totalMs: performance.now() - began, error: (err as Error).message });
    } finally {
      await dendrite.close();
    }
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  return results;
}

/** `count` loopback source addresses 127.1.x.y, none of them 127.0.0.1 (the validator's). */
export function sourceAddresses(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

export const newSeedHex = (): string => generateHotkey().seed.toString('hex');

const floodOf = isMainThread ? undefined : (workerData as { flood?: FloodSpec } | null)?.flood;
if (floodOf) {
  runFlood(floodOf);
} else if (isMainThread && process.argv[1] === THIS_FILE && process.argv[2] === '--serve-flood-axon') {
  await serveFloodAxon(JSON.parse(process.argv[3]!) as FloodAxonConfig);
}
