// bench validator-check: `validator check` with the proof of hardware, end to end against real
// miners on loopback (in-process axon + container manager on the local Docker daemon, the probe
// run in the rental). One miner: p50 over 5 runs. Eight miners at once, each with its own name
// prefix and SSH port: total wall time, alone and beside one miner that never answers (the
// others must not wait for it). And the CPU proof's cost: the validator's verification of the
// openings against the miner's work, as a ratio.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type Dockerode from 'dockerode';
import { generateHotkey } from '../protocol/index.js';
import { checkMiner, checkMiners, type CheckResult, type DeviceRequirement } from '../src/validator/checker.js';
import { chooseIndices, DEFAULT_CPU_PROOF, newSeed, openingsProblem, proveLocally } from '../src/validator/proof.js';
import { blockResult } from '../src/validator/workload.js';
import { hang, startFakeMiner } from '../test/helpers/miner-fakes.js';
import { startTestMiner, type TestMiner } from '../test/helpers/miner.js';
import { registerBench } from './registry.js';
import { percentile, writeSection } from './results.js';

const SINGLE_RUNS = 5;
const MINERS = 8;
const MiB = 1024 * 1024;
const DEVICE: DeviceRequirement = { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {} };
/** Deadline of each miner in the batch: the never-answering one gets its verdict then. */
const BATCH_DEADLINE_MS = 45_000;

const s = (ms: number) => (ms / 1000).toFixed(2);
const sorted = (v: number[]) => [...v].sort((a, b) => a - b);

/**
 * Miner `i` of the batch pins its containers to core i mod (cores): each manager alone would take
 * the lowest free core, and eight miners that cannot see each other would all pile onto core 0,
 * which no set of separate machines would do.
 */
function pinnedTo(core: number) {
  return (real: Dockerode): Dockerode => {
    const pinned = Object.create(real) as Dockerode;
    pinned.createContainer = ((o: Dockerode.ContainerCreateOptions) =>
      real.createContainer({ ...o, HostConfig: { ...o.HostConfig, CpusetCpus: String(core) } })) as Dockerode['createContainer'];
    return pinned;
  };
}

const stepMs = (r: CheckResult, step: string) => r.steps.find((x) => x.step === step)?.ms ?? NaN;

async function benchValidatorCheck(): Promise<void> {
  const load = loadavg()[0]!;
  const validator = generateHotkey();
  const cores = (await import('node:os')).cpus().length;
  const miners: TestMiner[] = [];
  let slow: Awaited<ReturnType<typeof startFakeMiner>> | undefined;
  try {
    process.stdout.write(`starting ${MINERS} miners\n`);
    for (let i = 0; i < MINERS; i++) miners.push(await startTestMiner({ area: `bench-vc${i}`, managerDocker: pinnedTo(i % cores) }));

    // One miner, end to end.
    const single: CheckResult[] = [];
    for (let run = 0; run < SINGLE_RUNS; run++) {
      const r = await checkMiner({ url: miners[0]!.url }, { hotkey: validator, device: DEVICE });
      if (r.verdict !== 'OK') throw new Error(`single run ${run + 1}: ${r.verdict} ${r.reason}`);
      single.push(r);
      process.stdout.write(`single ${run + 1}: ${s(r.totalMs)} s (proof ${s(stepMs(r, 'proof'))} s, commitment ${r.proof!.seconds!.toFixed(2)} s)\n`);
    }

    // Eight at once, then eight beside one that never answers.
    const batch = async (withSlow: boolean) => {
      const targets = miners.map((m) => ({ url: m.url }));
      if (withSlow) targets.push({ url: slow!.url });
      const t0 = performance.now();
      const done: Record<string, number> = {};
      const results = await checkMiners(targets, {
        hotkey: validator, device: DEVICE, concurrency: targets.length, deadlineMs: BATCH_DEADLINE_MS,
        onResult: (r) => { done[r.url] = performance.now() - t0; },
      });
      return { wall: performance.now() - t0, results, done };
    };
    const alone = await batch(false);
    process.stdout.write(`${MINERS} at once: ${s(alone.wall)} s, verdicts ${alone.results.map((r) => r.verdict).join(' ')}\n`);
    slow = await startFakeMiner((_req, _intent, c) => hang(c));
    const beside = await batch(true);
    const honest = beside.results.slice(0, MINERS);
    const honestDone = Math.max(...honest.map((r) => beside.done[r.url]!));
    const slowResult = beside.results[MINERS]!;
    process.stdout.write(`${MINERS} + 1 hanging: last honest verdict at ${s(honestDone)} s, hanging one at ${s(beside.done[slowResult.url]!)} s (${slowResult.verdict})\n`);

    // The CPU proof's cost: verification here vs. the work in the rental.
    const seed = newSeed();
    const prover = proveLocally(seed, DEFAULT_CPU_PROOF);
    const verifyMs: number[] = [];
    for (let k = 0; k < 20; k++) {
      const indices = chooseIndices(DEFAULT_CPU_PROOF.blocks, DEFAULT_CPU_PROOF.openings);
      const openings = prover.open(indices);
      const t = performance.now();
      if (openingsProblem(seed, DEFAULT_CPU_PROOF, prover.root, indices, openings) !== null) throw new Error('honest openings did not verify');
      verifyMs.push(performance.now() - t);
    }
    const allBlocksMs = (() => {
      const t = performance.now();
      for (let i = 0; i < DEFAULT_CPU_PROOF.blocks; i++) blockResult(seed, i, DEFAULT_CPU_PROOF);
      return performance.now() - t;
    })();
    const workSeconds = sorted(single.map((r) => r.proof!.seconds!));
    const verify = percentile(sorted(verifyMs), 50);
    const work = percentile(workSeconds, 50) * 1000;

    const totals = sorted(single.map((r) => r.totalMs));
    const proofs = sorted(single.map((r) => stepMs(r, 'proof')));
    const allOk = (rs: CheckResult[]) => rs.every((r) => r.verdict === 'OK');
    const markdown = `
\`validator check\` with the proof of hardware, end to end: Specs, check, test allocation (1 core, 256 MiB,
1 GiB), SSH login with the password, SFTP upload of the probe, its sha256 by the container's python3, the
measurements, the CPU proof (${DEFAULT_CPU_PROOF.blocks} blocks of ${DEFAULT_CPU_PROOF.rounds} products of ${DEFAULT_CPU_PROOF.n}×${DEFAULT_CPU_PROOF.n} matrices mod ${DEFAULT_CPU_PROOF.p}, ${DEFAULT_CPU_PROOF.openings} opened) and the release.
Real miners on loopback (in-process axon + container manager on the local Docker daemon), each with its
own name prefix and SSH port; miner *i* pins its containers to core *i* mod ${cores}. 1-minute load
average ${load.toFixed(2)} at the start; other work was running on the machine.

| figure | value |
|---|---|
| one miner, ${SINGLE_RUNS} runs: total p50 / min / max | ${s(percentile(totals, 50))} s / ${s(totals[0]!)} s / ${s(totals.at(-1)!)} s |
| one miner: proof step p50 (upload, hash, measure, commit, open, verify) | ${s(percentile(proofs, 50))} s |
| one miner: commitment time p50 (the workload on 1 core) | ${percentile(workSeconds, 50).toFixed(2)} s |
| ${MINERS} miners at once (${Math.ceil(MINERS / cores)} per core): total wall time | ${s(alone.wall)} s, ${allOk(alone.results) ? 'all OK' : alone.results.map((r) => r.verdict).join(', ')} |
| ${MINERS} miners + 1 that never answers: last of the ${MINERS} done at | ${s(honestDone)} s, ${allOk(honest) ? 'all OK' : honest.map((r) => r.verdict).join(', ')} |
| the one that never answers: verdict at | ${s(beside.done[slowResult.url]!)} s (${slowResult.verdict}, its deadline ${s(BATCH_DEADLINE_MS)} s) |
| CPU proof, validator: verify ${DEFAULT_CPU_PROOF.openings} openings, p50 of 20 | ${verify.toFixed(1)} ms |
| CPU proof, miner: the workload (commitment p50) | ${work.toFixed(0)} ms |
| **verification / work** | **${(verify / work).toFixed(4)}** (1 : ${(work / verify).toFixed(0)}) |
| for scale: all ${DEFAULT_CPU_PROOF.blocks} blocks recomputed by the validator (Node) | ${allBlocksMs.toFixed(0)} ms |

The ${MINERS}-miner batch runs ${MINERS} rentals on ${cores} cores, so each proof shares its core with ${Math.ceil(MINERS / cores) - 1} others:
the wall time is bounded by the CPU (${MINERS} × the one-core workload ÷ ${cores}), not by the checker. More
miners than that on this machine would measure the machine, not the checker.

Command: \`npm run bench -- validator-check\`
`;
    writeSection('validator-check', markdown);
    process.stdout.write(markdown);
  } finally {
    await slow?.close().catch(() => undefined);
    for (const m of miners) await m.close().catch(() => undefined);
  }
}

registerBench('validator-check', benchValidatorCheck);
