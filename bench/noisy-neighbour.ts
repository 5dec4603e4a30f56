// bench noisy-neighbour: how much one rental's disk writes slow another rental and the host, on
// the rental daemon's btrfs pool (a loop device), without and with the per-core IO limits, in one
// run. Two real rental containers (containerCreateOptions, their own networks, 1 core each):
// the victim times 200 × 4 KiB O_DSYNC writes (dd oflag=dsync); the host times 200 × 4 KiB
// writes each followed by fdatasync in a file beside the pool image; both alone, then while the
// neighbour writes O_DIRECT in a loop within its disk quota. With limits, the victim gets them at
// create and the neighbour, created without, gets them from the host afterwards (setIoLimits,
// as a claimed standby would). Everything it makes carries a run label and goes at the end.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { ensureBaseImage } from '../src/containers/base-image.js';
import { connectDocker, dockerodeEngine } from '../src/containers/docker.js';
import { DEFAULT_IO_RULE, rentalIoLimits, type IoLimits } from '../src/containers/io-limits.js';
import { setIoLimits } from '../src/containers/io-throttle.js';
import { DEFAULT_BASE_TAG } from '../src/containers/names.js';
import { containerCreateOptions, DEFAULT_CONTAINMENT, rentalNetworkOptions, storageSizeBytes } from '../src/containers/options.js';
import { poolDevice } from '../src/host/pool.js';
import { rentalHostLayout } from '../src/host/rental-dockerd.js';
import { silentLogger } from '../src/log.js';
import { registerBench } from './registry.js';
import { percentile, writeSection } from './results.js';

const run = promisify(execFile);
const RUN_LABEL = 'compute-miner.bench-run';
const MiB = 1024 * 1024;
const REPEATS = 3;
/** Writes of one sample, as the issue measured: 200 × 4 KiB, each durable before the next. */
const WRITES = 200;
/** The neighbour's file: rewritten with O_DIRECT in a loop, well inside its quota. */
const HOG_MIB = 256;

const DISK_BYTES = 1024 * MiB;
const DD_TIMEOUT_MS = 120_000;
/** A victim sample longer than this is cut and its time scaled up: the bench must end within minutes. */
const VICTIM_CAP_S = 15;
/** How long the hog writes before a loaded sample. */
const HOG_RAMP_MS = 1500;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const median = (v: number[]) => percentile([...v].sort((a, b) => a - b), 50);

export interface NoisyFigures {
  victimAloneMs: number; victimLoadedMs: number;
  hostAloneMs: number; hostLoadedMs: number;
  /** The neighbour's own write rate while loaded, MB/s (from dd). */
  hogMBps: number;
}

registerBench('noisy-neighbour', async () => {
  const layout = rentalHostLayout();
  const socket = process.env.DOCKER_SOCKET ?? layout.socket;
  const docker = connectDocker(socket);
  const engine = dockerodeEngine(docker);
  const device = poolDevice(layout.pool);
  if (!device) throw new Error(`the pool is not mounted at ${layout.pool.mountPoint}: run "compute-miner host setup" first`);
  const runId = randomBytes(4).toString('hex');
  const labels = { [RUN_LABEL]: runId };
  const scratch = mkdtempSync(join(tmpdir(), `cm-bench-fsync-${runId}-`));
  // The host's fsync is measured where the pool image lives, when the temporary directory is there too.
  const sameDisk = statSync(scratch).dev === statSync(dirname(layout.pool.image)).dev;
  const docker_ = (args: string[], timeout = DD_TIMEOUT_MS) => run('docker', ['-H', `unix://${socket}`, ...args], { timeout, maxBuffer: 1024 * 1024 });
  const load = loadavg()[0]!;
  process.stdout.write('waiting for the base image (built once; a few minutes the first time)\n');
  const scratchData = mkdtempSync(join(scratch, 'data-'));
  await ensureBaseImage(engine, { dataDir: scratchData, log: silentLogger() });
  const imageBytes = (await docker.getImage(DEFAULT_BASE_TAG).inspect()).Size;

  let boxes = 0;
  let capped = 0;
  /** Removes everything of this run; also when the bench is stopped (SIGINT, SIGTERM). */
  async function cleanup(): Promise<void> {
    await cleanupRentals();
    rmSync(scratch, { recursive: true, force: true });
  }
  const stopped = (signal: NodeJS.Signals) => { void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143)); };
  process.once('SIGINT', stopped);
  process.once('SIGTERM', stopped);

  /** The scenario's rentals and their networks go; the scratch directory stays for the next. */
  async function cleanupRentals(): Promise<void> {
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    // A network its container just left may still count the endpoint for a moment: asked again.
    for (let attempt = 0; attempt < 10; attempt++) {
      const networks = await docker.listNetworks({ filters: { label: [`${RUN_LABEL}=${runId}`] } });
      if (networks.length === 0) return;
      for (const n of networks) await docker.getNetwork(n.Id).remove().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function rental(cpuset: string, ioLimits?: IoLimits): Promise<string> {
    const bridgeId = randomBytes(4).toString('hex');
    const network = `bench-${runId}-net-${bridgeId}`;
    await docker.createNetwork(rentalNetworkOptions(network, bridgeId, labels));
    const options = containerCreateOptions({
      name: `bench-${runId}-rental-${boxes++}`, image: DEFAULT_BASE_TAG, labels, cpuset, memoryBytes: 512 * MiB, shmBytes: 64 * MiB,
      diskBytes: storageSizeBytes(DISK_BYTES, imageBytes), gpus: 0, sshBind: '127.0.0.1', sshPort: await freePort(), restartRetries: 0, network,
      containment: DEFAULT_CONTAINMENT, ...(ioLimits ? { ioLimits } : {}),
    });
    const container = await docker.createContainer(options);
    await container.start();
    return container.id;
  }

  /**
   * One victim sample: how long dd takes for the 200 O_DSYNC writes. A sample is cut at
   * VICTIM_CAP_S (SIGINT: dd still reports what it wrote) and its time scaled up to 200 writes.
   */
  async function victimSample(id: string): Promise<number> {
    const { stdout } = await docker_(['exec', id, 'sh', '-c',
      `timeout -s INT ${VICTIM_CAP_S} dd if=/dev/zero of=/root/dsync bs=4k count=${WRITES} oflag=dsync 2>&1; rm -f /root/dsync`]);
    const m = /copied, ([\d.]+) s/.exec(stdout);
    const written = Number(/(\d+)\+\d+ records out/.exec(stdout)?.[1]);
    if (!m || !(written >= 0)) throw new Error(`unexpected dd output: ${stdout}`);
    if (written < WRITES) capped++;
    // Not one write within the cap (dd was still opening its file): counted as one write per cap, a floor.
    return written === 0 ? VICTIM_CAP_S * 1000 * WRITES : (Number(m[1]) * 1000 * WRITES) / written;
  }

  /** One host sample: 200 × (4 KiB write + fdatasync) beside the pool image. */
  function hostSample(): number {
    const file = join(scratch, 'fsync');
    const fd = openSync(file, 'w');
    const block = Buffer.alloc(4096, 1);
    const t = performance.now();
    try {
      for (let i = 0; i < WRITES; i++) { writeSync(fd, block); fdatasyncSync(fd); }
    } finally {
      closeSync(fd);
    }
    const ms = performance.now() - t;
    rmSync(file, { force: true });
    return ms;
  }

  async function scenario(limited: boolean): Promise<NoisyFigures> {
    // The deletions of the last scenario's rentals finish first (btrfs frees their extents in the background).
    await run('btrfs', ['subvolume', 'sync', layout.pool.mountPoint], { timeout: 30_000 }).catch(() => undefined);
    const limits = rentalIoLimits(1, device!);
    const victim = await rental('0', limited ? limits : undefined);
    const neighbour = await rental('1');
    try {
      if (limited) {
        const pid = (await docker.getContainer(neighbour).inspect()).State.Pid;
        await setIoLimits(pid, limits);
      }
      await victimSample(victim); // warm-up: the file system's first allocation
      // Alone and loaded samples take turns, so load from elsewhere on the machine falls on both alike.
      const alone = { victim: [] as number[], host: [] as number[] };
      const loaded = { victim: [] as number[], host: [] as number[] };
      for (let i = 0; i < REPEATS; i++) {
        alone.victim.push(await victimSample(victim));
        alone.host.push(hostSample());
        // The hog: O_DIRECT rewrites of one file within the quota, while its marker file is there.
        await docker_(['exec', '-d', neighbour, 'sh', '-c',
          `touch /root/hog.on; while [ -e /root/hog.on ]; do dd if=/dev/zero of=/root/hog bs=1M count=${HOG_MIB} oflag=direct conv=notrunc 2>>/root/hog.log; done`]);
        await new Promise((r) => setTimeout(r, HOG_RAMP_MS));
        loaded.victim.push(await victimSample(victim));
        loaded.host.push(hostSample());
        // SIGINT: dd stops at once and still reports what it wrote.
        await docker_(['exec', neighbour, 'sh', '-c', 'rm -f /root/hog.on; pkill -INT -x dd; while pgrep -x dd >/dev/null; do sleep 0.1; done']);
        await new Promise((r) => setTimeout(r, HOG_RAMP_MS / 2));
      }
      const { stdout } = await docker_(['exec', neighbour, 'cat', '/root/hog.log']);
      const rates = [...stdout.matchAll(/copied, [\d.]+ s, ([\d.]+) (kB|MB|GB)\/s/g)].map((m) => Number(m[1]) * (m[2] === 'GB' ? 1000 : m[2] === 'kB' ? 0.001 : 1));
      return {
        victimAloneMs: median(alone.victim), victimLoadedMs: median(loaded.victim),
        hostAloneMs: median(alone.host), hostLoadedMs: median(loaded.host),
        hogMBps: rates.length ? median(rates) : NaN,
      };
    } finally {
      await cleanupRentals();
    }
  }

  const figures: Array<{ limited: boolean; f: NoisyFigures }> = [];
  try {
    // The slow one last: without limits a loaded sample can take a minute.
    for (const limited of [true, false]) {
      const f = await scenario(limited);
      figures.push({ limited, f });
      process.stdout.write(`${limited ? 'with' : 'without'} limits: ${JSON.stringify(f)}\n`);
    }
  } finally {
    process.removeListener('SIGINT', stopped);
    process.removeListener('SIGTERM', stopped);
    await cleanup();
  }
  const loadEnd = loadavg()[0]!;
  const ms = (v: number) => v.toFixed(0);
  const x = (loaded: number, alone: number) => `${(loaded / alone).toFixed(2)}×`;
  const row = ({ limited, f }: (typeof figures)[number]) =>
    `| ${limited ? 'yes' : 'no'} | ${ms(f.victimAloneMs)} | ${ms(f.victimLoadedMs)} | **${x(f.victimLoadedMs, f.victimAloneMs)}** | ${ms(f.hostAloneMs)} | ${ms(f.hostLoadedMs)} | **${x(f.hostLoadedMs, f.hostAloneMs)}** | ${f.hogMBps.toFixed(0)} |`;
  const rule = DEFAULT_IO_RULE;
  const markdown = `
One rental's durable small writes and the host's own fsync, alone and while a neighbouring rental
writes O_DIRECT in a loop (\`dd bs=1M count=${HOG_MIB} oflag=direct\`, rewriting one file inside its ${DISK_BYTES / MiB} MiB quota), both rentals real containers of 1 core each on the rental daemon's btrfs
pool (\`${device}\`). Victim: \`dd bs=4k count=${WRITES} oflag=dsync\` inside the rental; host: ${WRITES} × (4 KiB
write + fdatasync) in a file under ${tmpdir()} (${sameDisk ? 'the file system that holds the pool image' : 'not the pool image\'s file system'}). Median of ${REPEATS} samples each, alone and loaded taking turns;
every scenario in the same run${capped ? `; ${capped} victim samples were cut at ${VICTIM_CAP_S} s and their time scaled up to ${WRITES} writes` : ''}; 1-minute load average ${load.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end (2 cores).

With limits: the per-core rule (${rule.writeBytesPerSecondPerCore / MiB} MiB/s and ${rule.writeIopsPerCore} IOPS per core, read and
write each) on the pool's device; the victim has them from create (\`BlkioDevice*\`), the neighbour
from the host after start (\`setIoLimits\`, blkio.throttle.* of its cgroup), as a claimed standby. Before each scenario the
pool's deleted subvolumes are waited for (\`btrfs subvolume sync\`).

| IO limits | victim alone ms | victim loaded ms | victim loaded ÷ alone | host alone ms | host loaded ms | host loaded ÷ alone | neighbour MB/s |
|---|---|---|---|---|---|---|---|
${[...figures].reverse().map(row).join('\n')}

Targets (issue 18): victim loaded ≤ 2× alone; host fsync ≤ 1.5×.

Command: \`npm run bench -- noisy-neighbour\`
`;
  writeSection('noisy-neighbour', markdown);
  process.stdout.write(markdown);
});
