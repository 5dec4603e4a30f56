// The proof of hardware against real miners on loopback and the real Docker daemon: an honest
// miner passes with figures that match its rental; a miner whose containers get one core where
// the request says two is HARDWARE_MISMATCH; a commitment that comes after its deadline is
// PROOF_FAILED. Every test container is released and gone afterwards.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type Dockerode from 'dockerode';
import { generateHotkey, type Hotkey } from '../protocol/index.js';
import { checkMiner, type CheckDeps, type DeviceRequirement } from '../src/validator/checker.js';
import { rentedContainers, startTestMiner, type TestMiner } from './helpers/miner.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

interface Ctx {
  honest: TestMiner;
  lying: TestMiner;
  validator: Hotkey;
}
const hw = suite<Ctx>('validator check: proof of hardware');

/** A Docker client that gives every container it creates only the first core, whatever was asked. */
function oneCoreDocker(real: Dockerode): Dockerode {
  const lying = Object.create(real) as Dockerode;
  lying.createContainer = ((options: Dockerode.ContainerCreateOptions) =>
    real.createContainer({ ...options, HostConfig: { ...options.HostConfig, CpusetCpus: '0' } })) as Dockerode['createContainer'];
  return lying;
}

hw.before(async (ctx) => {
  ctx.validator = generateHotkey();
  [ctx.honest, ctx.lying] = await Promise.all([
    startTestMiner({ area: 'hw-honest' }),
    startTestMiner({ area: 'hw-lying', managerDocker: oneCoreDocker }),
  ]);
});

hw.after(async (ctx) => {
  await Promise.all([ctx.honest?.close(), ctx.lying?.close()]);
});

const device = (cores: number): DeviceRequirement => ({ cpu: { count: cores }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: GiB }, gpu: {} });
const deps = (ctx: Ctx, cores: number, extra: Partial<CheckDeps> = {}): CheckDeps => ({
  hotkey: ctx.validator, device: device(cores), deadlineMs: 60_000, deallocateBackoffMs: 50, ...extra,
});

hw('an honest miner: OK, and the measured figures are the rental\'s (1 core, 256 MiB, no GPU said clearly)', async (ctx) => {
  const r = await checkMiner({ url: ctx.honest.url }, deps(ctx, 1));
  assert.is(r.verdict, 'OK', r.reason);
  const m = r.measured!;
  assert.is(m.cores, 1);
  assert.is(m.detail.affinity, 1);
  assert.is(m.detail.nproc, 1);
  assert.is(m.memory_bytes, 256 * MiB);
  assert.is(m.detail.memory_limit, 256 * MiB);
  assert.ok(m.disk_bytes >= GiB, `disk ${m.disk_bytes}`);
  assert.equal(m.gpus, []);
  assert.match(m.detail.gpu_note ?? '', /nvidia-smi not found/);
  // Specs describe the machine the rental sees.
  assert.is(m.detail.online, r.claims!.cpu.count);
  assert.is(m.detail.host_memory_bytes, r.claims!.ram.total);
  assert.is(r.proof!.ok, true);
  assert.is(r.proof!.workers, 1);
  assert.is(r.proof!.opened.length, 8);
  assert.ok(r.proof!.seconds! > 0 && r.proof!.seconds! < r.proof!.limit_seconds!, `${r.proof!.seconds} s`);
  assert.is(r.proof!.gpu.ok, null);
  assert.match(r.proof!.gpu.reason!, /^no GPU in the rental: nvidia-smi not found; torch not importable/);
  assert.equal(r.shortfalls, []);
  assert.is((await rentedContainers(ctx.honest)).length, 0);
});

hw('an honest miner asked for 2 cores: 2 measured, the workload run on 2 processes', async (ctx) => {
  const r = await checkMiner({ url: ctx.honest.url }, deps(ctx, 2));
  assert.is(r.verdict, 'OK', r.reason);
  assert.is(r.measured!.cores, 2);
  assert.is(r.proof!.workers, 2);
});

hw('a miner whose rental gives 1 core where 2 were asked: HARDWARE_MISMATCH, still released', async (ctx) => {
  const r = await checkMiner({ url: ctx.lying.url }, deps(ctx, 2));
  assert.is(r.verdict, 'HARDWARE_MISMATCH', r.reason);
  assert.is(r.reason, 'gives less than asked or claimed: cores: 1 usable, 2 asked');
  assert.is(r.measured!.cores, 1);
  assert.is(r.measured!.detail.cpuset, 1);
  assert.is(r.proof!.ok, true); // the work was right, only the hardware is short
  assert.equal(r.steps.at(-1), { ...r.steps.at(-1)!, step: 'deallocate', ok: true });
  assert.is((await rentedContainers(ctx.lying)).length, 0);
});

hw('a commitment after its deadline: PROOF_FAILED, still released', async (ctx) => {
  const r = await checkMiner({ url: ctx.honest.url }, deps(ctx, 1, { hardware: { maxCpuBlockSeconds: 0.0005, graceSeconds: 0 } }));
  assert.is(r.verdict, 'PROOF_FAILED', r.reason);
  assert.match(r.reason, /^cpu proof: too slow for 1 core: no commitment within 0\.0 s \(deadline passed\)$/);
  assert.is(r.proof!.ok, false);
  assert.is(r.proof!.root, null);
  assert.is(r.measured!.cores, 1); // measured before the proof, and reported
  assert.equal(r.steps.map((s) => `${s.step}:${s.ok ? 'ok' : 'fail'}`), ['specs:ok', 'check:ok', 'allocate:ok', 'ssh:ok', 'proof:fail', 'deallocate:ok']);
  assert.is((await rentedContainers(ctx.honest)).length, 0);
});

hw.run();
