// The Specs probe on this real host, its cache, and the Specs plugin's reply shape.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { decode, encode, parseWith, specsOutputSchema, specsResponseSchema } from '../protocol/index.js';
import { createSpecsProbe } from '../src/specs/hardware.js';
import { specsPlugin } from '../src/handlers/specs.js';
import { silentLogger } from '../src/log.js';
import type { RequestContext } from '../src/axon/synapse.js';

const docker = new Dockerode();

/** A stand-in nvidia-smi that counts its runs in `countFile` and reports two GPUs. */
async function countingNvidiaSmi(dir: string): Promise<{ path: string; runs(): Promise<number> }> {
  const path = join(dir, 'nvidia-smi');
  const countFile = join(dir, 'runs');
  await writeFile(countFile, '');
  await writeFile(path, `#!/bin/sh\necho run >> '${countFile}'\necho 'NVIDIA GeForce RTX 4090, 24564'\necho 'NVIDIA GeForce RTX 4090, 24564'\n`);
  await chmod(path, 0o755);
  return { path, runs: async () => (await readFile(countFile, 'utf8')).split('\n').filter(Boolean).length };
}

test('the real probe reports this host: CPUs, RAM from /proc/meminfo, disk, no GPUs, Docker', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'specs-probe-'));
  try {
    const specs = await createSpecsProbe({ dataDir: dir, docker }).read();
    assert.ok(parseWith(specsOutputSchema, specs).ok);

    assert.is(specs.cpu.count, cpus().length);
    assert.ok(specs.cpu.frequency > 0);
    assert.ok(specs.cpu.model.length > 0);
    const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
    const vendor = /^vendor_id\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim();
    if (vendor) assert.is(specs.cpu.vendor, vendor);

    const meminfo = await readFile('/proc/meminfo', 'utf8');
    const memTotalKib = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)![1]);
    assert.is(specs.ram.total, memTotalKib * 1024);
    assert.ok(specs.ram.available > 0 && specs.ram.available <= specs.ram.total);
    assert.is(specs.ram.used, specs.ram.total - specs.ram.available);
    assert.ok(specs.ram.free <= specs.ram.available + specs.ram.total);

    assert.ok(specs.hard_disk.total > 0);
    assert.ok(specs.hard_disk.free <= specs.hard_disk.total);
    assert.ok(specs.hard_disk.used <= specs.hard_disk.total);
    assert.ok(specs.hard_disk.used + specs.hard_disk.free <= specs.hard_disk.total);

    assert.equal(specs.gpu, { count: 0, capacity: 0, details: [] }); // no NVIDIA GPU on this host

    const daemon = await docker.version();
    assert.equal(specs.docker, { available: true, version: daemon.Version });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a data directory that does not exist yet is measured on its nearest existing parent', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'specs-probe-'));
  try {
    const existing = await createSpecsProbe({ dataDir: dir, cacheMs: 0 }).read();
    const missing = await createSpecsProbe({ dataDir: join(dir, 'not', 'yet'), cacheMs: 0 }).read();
    assert.is(missing.hard_disk.total, existing.hard_disk.total);
    assert.ok(missing.hard_disk.total > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('nvidia-smi output becomes gpu count, names and summed MiB; a missing or failing one means zero GPUs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'specs-probe-'));
  try {
    const smi = await countingNvidiaSmi(dir);
    const withGpus = await createSpecsProbe({ dataDir: dir, nvidiaSmiPath: smi.path }).read();
    assert.equal(withGpus.gpu, {
      count: 2, capacity: 2 * 24564,
      details: [{ name: 'NVIDIA GeForce RTX 4090', capacity: 24564 }, { name: 'NVIDIA GeForce RTX 4090', capacity: 24564 }],
    });
    const absent = await createSpecsProbe({ dataDir: dir, nvidiaSmiPath: join(dir, 'no-such-nvidia-smi') }).read();
    assert.is(absent.gpu.count, 0);
    const failing = join(dir, 'failing-smi');
    await writeFile(failing, '#!/bin/sh\necho "NVIDIA GeForce RTX 4090, 24564"\nexit 9\n');
    await chmod(failing, 0o755);
    assert.is((await createSpecsProbe({ dataDir: dir, nvidiaSmiPath: failing }).read()).gpu.count, 0);
    const hanging = join(dir, 'hanging-smi');
    await writeFile(hanging, '#!/bin/sh\nexec sleep 30\n');
    await chmod(hanging, 0o755);
    assert.is((await createSpecsProbe({ dataDir: dir, nvidiaSmiPath: hanging, nvidiaSmiTimeoutMs: 200 }).read()).gpu.count, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a Docker daemon that does not answer is reported as unavailable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'specs-probe-'));
  try {
    const nowhere = new Dockerode({ socketPath: join(dir, 'no-docker.sock') });
    assert.equal((await createSpecsProbe({ dataDir: dir, docker: nowhere }).read()).docker, { available: false, version: '' });
    assert.equal((await createSpecsProbe({ dataDir: dir }).read()).docker, { available: false, version: '' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the cache: a second read does not probe again, concurrent reads share one probe, expiry probes again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'specs-probe-'));
  try {
    const smi = await countingNvidiaSmi(dir);
    const probe = createSpecsProbe({ dataDir: dir, docker, nvidiaSmiPath: smi.path, cacheMs: 60_000 });
    const first = await probe.read();
    assert.is(await smi.runs(), 1);
    const second = await probe.read();
    assert.is(await smi.runs(), 1);
    assert.is(second, first);

    const shared = createSpecsProbe({ dataDir: dir, nvidiaSmiPath: smi.path, cacheMs: 60_000 });
    const results = await Promise.all(Array.from({ length: 10 }, () => shared.read()));
    assert.is(await smi.runs(), 2);
    assert.ok(results.every((r) => r === results[0]));

    const shortLived = createSpecsProbe({ dataDir: dir, nvidiaSmiPath: smi.path, cacheMs: 1 });
    await shortLived.read();
    await new Promise((r) => setTimeout(r, 20));
    await shortLived.read();
    assert.is(await smi.runs(), 4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function context(): RequestContext {
  const controller = new AbortController();
  return { hotkey: '5test', stake: 0, deadline: Date.now() + 10_000, signal: controller.signal, receivedAt: Date.now(), log: silentLogger() };
}

test('the Specs plugin answers {specs_output} that passes the protocol schema and survives the codec', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'specs-probe-'));
  try {
    const plugin = specsPlugin(createSpecsProbe({ dataDir: dir, docker }), () => ({ solver: { kind: 'builtin', workers: 2 }, cpu: 'ignored' }));
    assert.is(plugin.name, 'Specs');
    assert.ok(plugin.concurrency >= 1);
    assert.ok(parseWith(plugin.schema, { specs_input: 'x' }).ok);
    const reply = await plugin.forward({}, context());
    const parsed = parseWith(specsResponseSchema, decode(encode(reply)));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
    const output = reply.specs_output as Record<string, unknown>;
    assert.equal(output.solver, { kind: 'builtin', workers: 2 });
    assert.is((output.cpu as { count: number }).count, cpus().length); // probed fields win over extras
    const bare = await specsPlugin(createSpecsProbe({ dataDir: dir })).forward({}, context());
    assert.ok(parseWith(specsResponseSchema, bare).ok);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
