// The proof of hardware's pure parts: the validator's workload and Merkle tree agree byte for
// byte with the probe program (run here with this machine's python3, which has no PyTorch), an
// honest proof verifies, one tampered opening (result, path, index, order) fails, and the
// measurements compare with what was asked and claimed within the documented tolerances.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import type { SpecsOutput } from '../protocol/index.js';
import { DEFAULT_TOLERANCES, parseMeasured, shortfalls, type Asked, type Measured } from '../src/validator/measure.js';
import { merkleLevels, merklePath, verifyMerklePath } from '../src/validator/merkle.js';
import { PROBE_PROGRAM, PROBE_SHA256 } from '../src/validator/probe-program.js';
import {
  chooseIndices, commitLimitSeconds, DEFAULT_CPU_PROOF, DEFAULT_GPU_PROOF, newSeed, openingsProblem, proofParamsProblem, proveLocally,
  type Opening, type ProofParams,
} from '../src/validator/proof.js';
import { blockResult } from '../src/validator/workload.js';

const t = suite('proof of hardware (pure)');
const SMALL: ProofParams = { n: 8, p: 65521, rounds: 3, blocks: 16, openings: 4 };

/** The probe program on this machine's python3, spoken to over stdin/stdout; no shell. */
async function localProbe(): Promise<{ measured: unknown; ask(msg: object): Promise<Record<string, unknown>>; close(): Promise<{ code: number | null; stderr: string }> }> {
  const child = spawn('/usr/bin/python3', ['-u', '-c', PROBE_PROGRAM], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string) as Record<string, unknown>;
  const first = await next();
  return {
    measured: first.measured,
    async ask(msg) {
      child.stdin.write(`${JSON.stringify(msg)}\n`);
      return next();
    },
    close: () => new Promise((resolve) => {
      child.once('close', (code) => resolve({ code, stderr }));
      child.stdin.end(`${JSON.stringify({ op: 'exit' })}\n`);
    }),
  };
}

t('the probe program\'s sha256 is the one checked in the container', () => {
  assert.is(PROBE_SHA256, createHash('sha256').update(PROBE_PROGRAM).digest('hex'));
});

t('the python probe and the validator agree: an honest commitment verifies; no torch here gives a clear no-GPU answer', async () => {
  const probe = await localProbe();
  const seed = newSeed();
  const commit = await probe.ask({ op: 'commit', kind: 'cpu', seed: seed.toString('hex'), ...SMALL });
  assert.is(commit.root, proveLocally(seed, SMALL).root);
  const indices = chooseIndices(SMALL.blocks, SMALL.openings);
  const opened = await probe.ask({ op: 'open', indices });
  assert.is(openingsProblem(seed, SMALL, commit.root as string, indices, opened.openings), null);
  const gpu = await probe.ask({ op: 'commit', kind: 'gpu', seed: seed.toString('hex'), ...DEFAULT_GPU_PROOF });
  assert.equal(gpu, { root: null, reason: 'no GPU: torch is not importable in the rental' });
  const measured = parseMeasured(probe.measured);
  assert.ok(measured.cores >= 1);
  assert.equal(measured.gpus, []);
  assert.match(measured.detail.gpu_note!, /nvidia-smi not found; torch not importable/);
  assert.equal(await probe.close(), { code: 0, stderr: '' });
});

t('one tampered opening fails: a wrong result, a wrong path hash, another block\'s opening, a missing one', () => {
  const seed = newSeed();
  const prover = proveLocally(seed, SMALL);
  const indices = [1, 6, 9, 14];
  const honest = prover.open(indices);
  assert.is(openingsProblem(seed, SMALL, prover.root, indices, honest), null);
  const copy = (): Opening[] => honest.map((o) => ({ ...o, path: [...o.path] }));
  const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);

  const wrongResult = copy();
  wrongResult[2]!.result = flip(wrongResult[2]!.result);
  assert.match(openingsProblem(seed, SMALL, prover.root, indices, wrongResult)!, /^block 9: wrong result/);

  const wrongPath = copy();
  wrongPath[1]!.path[2] = flip(wrongPath[1]!.path[2]!);
  assert.is(openingsProblem(seed, SMALL, prover.root, indices, wrongPath), 'block 6: the Merkle path does not lead to the committed root');

  // A correct result under a root committed for other results (the miner computed after the indices).
  const other = proveLocally(newSeed(), SMALL);
  assert.match(openingsProblem(seed, SMALL, other.root, indices, honest)!, /does not lead to the committed root/);

  const swapped = copy();
  [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
  assert.is(openingsProblem(seed, SMALL, prover.root, indices, swapped), 'opening 0 is not for block 1');
  assert.is(openingsProblem(seed, SMALL, prover.root, indices, honest.slice(1)), 'expected 4 openings, got 3');
  assert.is(openingsProblem(seed, SMALL, prover.root, indices, 'nope'), 'expected 4 openings, got none');
  assert.is(openingsProblem(seed, SMALL, 'zz', indices, honest), 'the commitment is not a 32-byte hex root');
});

t('Merkle tree: every leaf opens, a leaf moved to another index or a node passed as a leaf does not', () => {
  const results = Array.from({ length: 8 }, (_, i) => createHash('sha256').update(`r${i}`).digest());
  const levels = merkleLevels(results);
  const root = levels.at(-1)![0]!;
  for (let i = 0; i < 8; i++) assert.ok(verifyMerklePath(root, 8, i, results[i]!, merklePath(levels, i)));
  assert.not.ok(verifyMerklePath(root, 8, 3, results[2]!, merklePath(levels, 2)));
  // An inner node's children as a "result" one level down never verifies as a leaf.
  assert.not.ok(verifyMerklePath(root, 4, 0, Buffer.concat([levels[0]![0]!, levels[0]![1]!]), merklePath(levels, 0).slice(1)));
  assert.not.ok(verifyMerklePath(root, 8, 8, results[0]!, merklePath(levels, 0)));
  assert.throws(() => merkleLevels(results.slice(0, 6)), /power-of-two/);
});

t('workload: deterministic per seed and block, different across them; parameters checked for exactness', () => {
  const seed = Buffer.alloc(32, 7);
  assert.ok(blockResult(seed, 3, SMALL).equals(blockResult(seed, 3, SMALL)));
  assert.not.ok(blockResult(seed, 3, SMALL).equals(blockResult(seed, 4, SMALL)));
  assert.not.ok(blockResult(seed, 3, SMALL).equals(blockResult(Buffer.alloc(32, 8), 3, SMALL)));
  assert.is(proofParamsProblem(DEFAULT_CPU_PROOF, 'cpu'), null);
  assert.is(proofParamsProblem(DEFAULT_GPU_PROOF, 'gpu'), null);
  assert.match(proofParamsProblem({ ...DEFAULT_GPU_PROOF, p: 65521 }, 'gpu')!, /2\^24/);
  assert.match(proofParamsProblem({ ...SMALL, blocks: 12 }, 'cpu')!, /power of two/);
  assert.match(proofParamsProblem({ ...SMALL, openings: 17 }, 'cpu')!, /openings/);
});

t('indices are distinct, sorted, in range; the time limit scales with the asked cores', () => {
  for (let k = 0; k < 50; k++) {
    const idx = chooseIndices(64, 8);
    assert.is(new Set(idx).size, 8);
    assert.ok(idx.every((i, j) => i >= 0 && i < 64 && (j === 0 || idx[j - 1]! < i)));
  }
  assert.equal(chooseIndices(4, 10), [0, 1, 2, 3]);
  assert.is(commitLimitSeconds(DEFAULT_CPU_PROOF, 1, 0.4, 2), 64 * 0.4 + 2);
  assert.is(commitLimitSeconds(DEFAULT_CPU_PROOF, 4, 0.4, 2), 16 * 0.4 + 2);
});

const measured = (over: Partial<Measured> = {}, detail: Partial<Measured['detail']> = {}): Measured => ({
  cores: 2, memory_bytes: 1024 ** 3, disk_bytes: 100 * 1024 ** 3, gpus: [],
  detail: {
    affinity: 2, nproc: 2, cpuset: 2, online: 8, quota: null, memory_limit: 1024 ** 3, memory_source: 'cgroup v2 memory.max',
    host_memory_bytes: 32 * 1024 ** 3, disk_free_bytes: 50 * 1024 ** 3, gpu_note: 'nvidia-smi not found', torch_gpus: null, ...detail,
  },
  ...over,
});
const asked: Asked = { cpu: { count: 2 }, ram: { capacity: 1024 ** 3 }, hard_disk: { capacity: 10 * 1024 ** 3 }, gpu: {} };
const specs = (over: Partial<SpecsOutput> = {}): SpecsOutput => ({
  cpu: { count: 8, frequency: 2000, vendor: 'x', model: 'y' },
  gpu: { count: 0, capacity: 0, details: [] },
  hard_disk: { total: 200 * 1024 ** 3, free: 100 * 1024 ** 3, used: 100 * 1024 ** 3 },
  ram: { total: 32 * 1024 ** 3, available: 30 * 1024 ** 3, used: 2 * 1024 ** 3, free: 30 * 1024 ** 3 },
  docker: { available: true, version: '1' },
  ...over,
});

t('shortfalls: what was asked and what Specs claim, within the tolerances', () => {
  assert.equal(shortfalls(measured(), asked, specs()), []);
  assert.equal(shortfalls(measured({ cores: 1 }), asked, null), ['cores: 1 usable, 2 asked']);
  // Memory: 1% short is page rounding, 2% short is not.
  assert.equal(shortfalls(measured({ memory_bytes: Math.ceil(0.995 * 1024 ** 3) }), asked, null), []);
  assert.equal(shortfalls(measured({ memory_bytes: 0.98 * 1024 ** 3 }), asked, null), ['memory: 0.98 GiB limit, 1.00 GiB asked']);
  assert.equal(shortfalls(measured({ disk_bytes: 9 * 1024 ** 3 }), asked, null), ['disk: 9.00 GiB at /, 10.00 GiB asked']);
  assert.equal(shortfalls(measured({}, { online: 4 }), asked, specs()), ['cores: the machine shows 4 online, Specs claim 8']);
  assert.equal(shortfalls(measured({}, { host_memory_bytes: 16 * 1024 ** 3 }), asked, specs()), ['memory: the machine has 16.00 GiB, Specs claim 32.00 GiB']);
  // GPUs: count asked, model and memory as claimed.
  const gpuAsked: Asked = { ...asked, gpu: { count: 2, type: 'A100' } };
  assert.equal(shortfalls(measured(), gpuAsked, null), ['GPUs: 0 found, 2 asked (nvidia-smi not found)']);
  const claimed = specs({ gpu: { count: 2, capacity: 81920, details: [{ name: 'NVIDIA A100-SXM4-40GB', capacity: 40960 }, { name: 'NVIDIA A100-SXM4-40GB', capacity: 40960 }] } });
  const a100 = { name: 'NVIDIA A100-SXM4-40GB', memory_mib: 40536 };
  assert.equal(shortfalls(measured({ gpus: [a100, a100] }), gpuAsked, claimed), []);
  assert.equal(shortfalls(measured({ gpus: [a100, { name: 'NVIDIA T4', memory_mib: 15360 }] }), gpuAsked, claimed), [
    'GPU model: NVIDIA A100-SXM4-40GB, NVIDIA T4, A100 asked',
    'GPU model: NVIDIA T4 given, Specs claim NVIDIA A100-SXM4-40GB, NVIDIA A100-SXM4-40GB',
  ]);
  assert.equal(shortfalls(measured({ gpus: [a100, { ...a100, memory_mib: 20000 }] }), gpuAsked, claimed), ['GPU memory: NVIDIA A100-SXM4-40GB has 20000 MiB, Specs claim 40960 MiB']);
  assert.equal(DEFAULT_TOLERANCES, { memory: 0.01, disk: 0.05, hostMemory: 0.02, gpuMemory: 0.05 });
});

t('parseMeasured: the probe\'s line → Measured; anything incomplete is refused', () => {
  const m = parseMeasured({
    cores: { count: 1, affinity: 1, nproc: 1, cpuset: 1, online: 2, quota: null },
    memory: { bytes: 5, limit: 5, host_total: 10, source: 'cgroup v2 memory.max' },
    disk: { bytes: 7, free: 3 },
    gpu: { gpus: [{ name: 'G', memory_mib: 3 }, { name: 7 }], torch: null, note: null },
  });
  assert.equal([m.cores, m.memory_bytes, m.disk_bytes, m.gpus], [1, 5, 7, [{ name: 'G', memory_mib: 3 }]]);
  assert.throws(() => parseMeasured({ cores: { count: 'two' } }), /incomplete/);
  assert.throws(() => parseMeasured(null), /incomplete/);
});

t.run();
