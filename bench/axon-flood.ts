// bench axon-flood: the allowed validator's Specs probes (each on a fresh connection, the
// product's Dendrite, open + signed round trip) against an allow-list axon in a child process,
// alone and during each flood of the issue "the axon stays reachable for allowed validators
// while it is flooded", side by side in one run; and the axon's CPU per refused request
// (stranger, replay) with the signature checked first and with the cheap refusals, in the same run.
import { loadavg } from 'node:os';
import { generateHotkey, hotkeyFromSeed } from '../protocol/index.js';
import { newSeedHex, probe, sourceAddresses, startFlood, startFloodAxon, type FloodAxon, type FloodSpec, type ProbeResult } from '../test/helpers/axon-flood.js';
import { registerBench } from './registry.js';
import { percentile, writeSection } from './results.js';

const SETTLE_MS = 1_000;
const PROBES = 40;
const PROBE_GAP_MS = 150;
const PROBE_TIMEOUT_MS = 5_000;
const CPU_WARMUP_MS = 500;
const CPU_WINDOW_MS = 3_000;
const CPU_ROUNDS = 2;

interface Phase {
  name: string;
  flood?: Omit<FloodSpec, 'url' | 'axonHotkey'>;
}

interface PhaseResult {
  name: string;
  probes: ProbeResult[];
  attackerReplies: Record<string, number>;
  attackerCloses: Record<string, number>;
  axonCpuShare: number;
  rssMb: number;
  loopMaxMs: number;
}

async function runPhase(axon: FloodAxon, validator: ReturnType<typeof generateHotkey>, phase: Phase): Promise<PhaseResult> {
  const flood = phase.flood ? await startFlood({ ...phase.flood, url: axon.url, axonHotkey: axon.hotkey }) : undefined;
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const before = await axon.stats();
  const began = performance.now();
  const probes = await probe(axon.url, axon.hotkey, validator, PROBES, PROBE_GAP_MS, PROBE_TIMEOUT_MS);
  const seconds = (performance.now() - began) / 1000;
  const after = await axon.stats();
  const tally = flood ? await flood.stop() : { replies: {}, closes: {} };
  return {
    name: phase.name,
    probes,
    attackerReplies: tally.replies,
    attackerCloses: tally.closes,
    axonCpuShare: (after.cpu - before.cpu) / 1e6 / seconds,
    rssMb: after.rss / 1024 / 1024,
    loopMaxMs: after.loopDelayMaxMs,
  };
}

const counter = (metrics: string, reason: string): number => Number(new RegExp(`^axon_refusals_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);

interface CpuResult {
  refused: number;
  cpuMicros: number;
}

/** Axon CPU per refused request while one kind of refused flood runs at line rate. */
async function cpuPerRefusal(axon: FloodAxon, kind: 'strangers' | 'replay', attackerSeedHex: string): Promise<CpuResult> {
  const flood = await startFlood({ kind, lineRate: true, connections: 4, attackerSeedHex, url: axon.url, axonHotkey: axon.hotkey });
  const reason = kind === 'strangers' ? 'not_allowed' : 'replay';
  try {
    await new Promise((r) => setTimeout(r, CPU_WARMUP_MS));
    const [cpu0, m0] = [await axon.stats(), await axon.metrics()];
    await new Promise((r) => setTimeout(r, CPU_WINDOW_MS));
    const [cpu1, m1] = [await axon.stats(), await axon.metrics()];
    return { refused: counter(m1, reason) - counter(m0, reason), cpuMicros: cpu1.cpu - cpu0.cpu };
  } finally {
    await flood.stop();
  }
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');

async function runBench(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const validator = generateHotkey();
  const attackerSeed = newSeedHex();
  const attacker = hotkeyFromSeed(Buffer.from(attackerSeed, 'hex'));
  const allow: [string, number][] = [[validator.ss58Address, 1000], [attacker.ss58Address, 10]];

  // 1. The validator alone and during each flood, on one axon with the default limits.
  const phases: Phase[] = [
    { name: 'alone' },
    { name: '300 stranger connections, 1 signed request each / 2 s (30 source addresses)', flood: { kind: 'strangers', connections: 300, intervalMs: 2000, sources: sourceAddresses(30) } },
    { name: "1 request of the stake-10 validator replayed at line rate, 8 connections", flood: { kind: 'replay', connections: 8, attackerSeedHex: attackerSeed } },
    { name: 'fresh signed requests of the stake-10 validator at line rate, 8 connections', flood: { kind: 'fresh', connections: 8, attackerSeedHex: attackerSeed } },
  ];
  const results: PhaseResult[] = [];
  const axon = await startFloodAxon({ seedHex: newSeedHex(), allow });
  try {
    await probe(axon.url, axon.hotkey, validator, 5, 0, PROBE_TIMEOUT_MS); // warm-up
    for (const phase of phases) {
      const r = await runPhase(axon, validator, phase);
      results.push(r);
      const ok = r.probes.filter((p) => p.ok).length;
      process.stdout.write(`${phase.name}: ${ok}/${r.probes.length} ok, attacker saw ${JSON.stringify(r.attackerReplies)} ${JSON.stringify(r.attackerCloses)}\n`);
    }
  } finally {
    await axon.stop();
  }

  // 2. CPU per refused request, signature first (before) and cheap refusals (after), taking turns.
  const cpu = { before: { strangers: { refused: 0, cpuMicros: 0 }, replay: { refused: 0, cpuMicros: 0 } }, after: { strangers: { refused: 0, cpuMicros: 0 }, replay: { refused: 0, cpuMicros: 0 } } };
  // A high refusal threshold keeps each flooding connection open, so only the refusals are measured.
  const limits = { maxRefusedPerConnection: 1_000_000 };
  const verifyFirst = await startFloodAxon({ seedHex: newSeedHex(), allow, limits, cheapRefusals: false });
  const cheap = await startFloodAxon({ seedHex: newSeedHex(), allow, limits, cheapRefusals: true });
  try {
    for (let round = 0; round < CPU_ROUNDS; round++) {
      for (const kind of ['strangers', 'replay'] as const) {
        for (const [mode, server] of [['before', verifyFirst], ['after', cheap]] as const) {
          const r = await cpuPerRefusal(server, kind, attackerSeed);
          cpu[mode][kind].refused += r.refused;
          cpu[mode][kind].cpuMicros += r.cpuMicros;
        }
      }
    }
  } finally {
    await verifyFirst.stop();
    await cheap.stop();
  }
  const per = (c: CpuResult) => c.cpuMicros / c.refused;
  const rate = (c: CpuResult) => c.refused / ((CPU_ROUNDS * CPU_WINDOW_MS) / 1000);
  for (const kind of ['strangers', 'replay'] as const) {
    process.stdout.write(`${kind}: ${per(cpu.before[kind]).toFixed(1)} µs/refusal signature first, ${per(cpu.after[kind]).toFixed(1)} µs cheap\n`);
  }

  const base = [...results[0]!.probes.filter((p) => p.ok).map((p) => p.totalMs)].sort((a, b) => a - b);
  const baseP99 = percentile(base, 99);
  const rows = results.map((r) => {
    const okTimes = r.probes.filter((p) => p.ok).map((p) => p.totalMs).sort((a, b) => a - b);
    const opens = r.probes.map((p) => p.openMs).filter(Number.isFinite).sort((a, b) => a - b);
    const p99 = percentile(okTimes, 99);
    const codes = Object.entries(r.attackerReplies).map(([c, n]) => `${c}×${n}`).join(', ') || '–';
    const closes = Object.entries(r.attackerCloses).map(([c, n]) => `${c}×${n}`).join(', ') || '–';
    return `| ${r.name} | ${r.probes.filter((p) => p.ok).length}/${r.probes.length} | ${ms(percentile(okTimes, 50))} | ${ms(p99)} | ${(p99 / baseP99).toFixed(2)}× | ${ms(opens.at(-1) ?? NaN)} | ${(100 * r.axonCpuShare).toFixed(0)}% | ${ms(r.loopMaxMs)} | ${r.rssMb.toFixed(0)} | ${codes} | ${closes} |`;
  });
  const cpuRow = (kind: 'strangers' | 'replay', label: string) =>
    `| ${label} | ${per(cpu.before[kind]).toFixed(1)} (${rate(cpu.before[kind]).toFixed(0)}/s) | ${per(cpu.after[kind]).toFixed(1)} (${rate(cpu.after[kind]).toFixed(0)}/s) | ${(per(cpu.before[kind]) / per(cpu.after[kind])).toFixed(2)}× |`;
  writeSection(
    'axon-flood',
    [
      'The allowed validator (stake 1000) probes an allow-list axon (two validators: it, and one of stake 10 whose key',
      'the attacker holds) in a child process with a cached Specs plugin and the default limits. A probe is the',
      "product's Dendrite opening a fresh connection and making one signed Specs round trip; it succeeds on a verified 200",
      `within ${PROBE_TIMEOUT_MS / 1000} s. ${PROBES} probes ${PROBE_GAP_MS} ms apart per row, alone and then during each flood (the flood running`,
      `${SETTLE_MS / 1000} s before the first probe). Flooders run in a worker thread of the bench process and reopen every connection the axon closes.`,
      'Probe times are open + round trip; "× alone" compares p99 with the row alone (target: every probe succeeds,',
      'p99 within 2×). Axon CPU is its share of one core over the probes; loop max is the longest the axon\'s event loop',
      `was held. 1-minute load average ${loadBefore.toFixed(2)} at the start (other work on the machine moves every figure).`,
      '',
      '| flood | probes ok | p50 ms | p99 ms | p99 × alone | slowest open ms | axon CPU | loop max ms | axon RSS MiB | attacker saw replies | attacker saw closes |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      'Axon CPU per refused request (its process CPU time over the refusals it counted in /metrics), with the',
      `signature checked first (\`cheapRefusals: false\`, PROTOCOL.md's order 3 → 4 → 5) and with the cheap refusals (access and`,
      'nonce before the signature, the default), two axons taking turns; 4 connections at line rate, the refusal threshold',
      `raised so no connection is closed; ${CPU_ROUNDS} windows of ${CPU_WINDOW_MS / 1000} s per axon and kind. The reply to a refusal is signed in both.`,
      '',
      '| refused request | signature first: µs (refusals/s) | cheap refusal: µs (refusals/s) | saved |',
      '|---|---|---|---|',
      cpuRow('strangers', 'stranger (not on the allow-list) → 403'),
      cpuRow('replay', 'replay of an accepted request → 401'),
      '',
      'Command: `npm run bench -- axon-flood`',
    ].join('\n'),
  );
}

registerBench('axon-flood', runBench);
