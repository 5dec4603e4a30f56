// bench allocate-crowd: the allocate of bench/allocate.ts (signed request → reply once SSH
// answers) with 0, 4 and 16 other rentals already running on the same rental Docker daemon.
// What grows with the rentals on a host is the daemon's side (containers, one bridge network
// and its firewall rules per rental, btrfs subvolumes and their qgroups), so that is what the
// crowd is made of: real rentals, each made by the rental service with all its containment.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateHotkey } from '../protocol/index.js';
import { connectDocker } from '../src/containers/index.js';
import type { RentalService } from '../src/rentals/service.js';
import { rentalHostLayout } from '../src/host/rental-dockerd.js';
import { generateRenterKeyPair } from '../src/validator/credentials.js';
import { benchRentals, freePort, rounds, type Figures } from './allocate.js';
import { registerBench } from './registry.js';
import { percentile, writeSection } from './results.js';

const CROWDS = [0, 4, 16];
const STANDBY_ROUNDS = 10;
const COLD_ROUNDS = 6;
const CROWD_LABEL = 'compute-miner.bench-crowd';
const MiB = 1024 * 1024;

interface Crowd { managers: RentalService[]; dirs: string[]; runId: string }

/**
 * One more rental of the crowd: a rental service of its own (its own ledger, SSH port, names and
 * owner, no warm container) holding one rental of 1 core, 256 MiB and 512 MiB disk. A single
 * service on this 2-core machine would place only two 1-core rentals; separate services share the
 * cores, which the daemon allows.
 */
async function addRental(crowd: Crowd): Promise<void> {
  const docker = connectDocker(rentalHostLayout().socket);
  const n = crowd.managers.length;
  const dataDir = mkdtempSync(join(tmpdir(), `cm-crowd-${crowd.runId}-${n}-`));
  crowd.dirs.push(dataDir);
  const manager = benchRentals({
    docker, dataDir, minerHotkey: generateHotkey().ss58Address, sshPort: await freePort(),
    namePrefix: `crowd-${crowd.runId}-${n}-`, labels: { [CROWD_LABEL]: crowd.runId }, warm: 0,
  });
  crowd.managers.push(manager);
  await manager.start();
  await manager.baseImageReady();
  const result = await manager.allocate({
    timelineDays: 1, publicKeyPem: generateRenterKeyPair().publicKeyPem, sshKey: '', dockerfile: '',
    device: { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 512 * MiB }, gpu: {}, testing: false },
  });
  if (!result.status) throw new Error(`crowd rental ${n + 1} refused: ${result.error}`);
}

async function removeCrowd(crowd: Crowd): Promise<void> {
  const docker = connectDocker(rentalHostLayout().socket);
  for (const m of crowd.managers) await m.stop().catch(() => undefined);
  const filters = { label: [`${CROWD_LABEL}=${crowd.runId}`] };
  for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove().catch(() => undefined);
  for (const d of crowd.dirs) rmSync(d, { recursive: true, force: true });
}

const ms = (v: number) => v.toFixed(0);
const p50 = (v: number[]) => percentile([...v].sort((a, b) => a - b), 50);

async function benchCrowd(): Promise<void> {
  const load = loadavg()[0]!;
  const crowd: Crowd = { managers: [], dirs: [], runId: randomBytes(4).toString('hex') };
  const figures: { present: number; standby: Figures; cold: Figures }[] = [];
  try {
    for (const present of CROWDS) {
      while (crowd.managers.length < present) await addRental(crowd);
      const docker = connectDocker(rentalHostLayout().socket);
      const running = (await docker.listContainers({ filters: { label: [`${CROWD_LABEL}=${crowd.runId}`], status: ['running'] } })).length;
      if (running !== present) throw new Error(`${present} crowd rentals wanted, ${running} running`);
      process.stdout.write(`${present} rentals present\n`);
      const standby = await rounds(true, STANDBY_ROUNDS, `${present} present, standby`);
      const cold = await rounds(false, COLD_ROUNDS, `${present} present, cold`);
      figures.push({ present, standby, cold });
    }
  } finally {
    await removeCrowd(crowd);
  }
  const base = figures[0]!;
  const rows = figures.map((f) => {
    const [s, c, sd] = [p50(f.standby.allocations), p50(f.cold.allocations), p50(f.standby.deallocations)];
    return `| ${f.present} | ${ms(s)} | ${(s / p50(base.standby.allocations)).toFixed(2)}× | ${ms(c)} | ${(c / p50(base.cold.allocations)).toFixed(2)}× | ${ms(sd)} | ${(sd / p50(base.standby.deallocations)).toFixed(2)}× |`;
  });
  const markdown = `
Machine: ${cpus().length} cores (${cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown'}), Node.js ${process.version}, ${new Date().toISOString().slice(0, 10)}

The allocate of the allocate benchmark (signed request → reply once SSH answers with the new credentials;
1 core, 512 MiB, 1 GiB disk) with other rentals already running on the same rental Docker daemon:
real rentals made by the rental service (each its own bridge network and firewall rules, btrfs
subvolumes with a quota, limits, 1 core, 256 MiB, 512 MiB disk). This 2-core machine gives one miner
two 1-core rentals at most, so the crowd is held by separate rental services sharing the cores; what grows with
rentals on a host is the daemon's work, and the fleet's own per-rental work is the placement benchmark's.
${STANDBY_ROUNDS} standby and ${COLD_ROUNDS} cold rounds per row after 1 warm-up round each.
1-minute load average ${load.toFixed(2)} at the start.

| rentals present | allocate standby p50 ms | × none | allocate cold p50 ms | × none | de-allocate (standby) p50 ms | × none |
|---|---|---|---|---|---|---|
${rows.join('\n')}

Command: \`npm run bench -- allocate-crowd\`
`;
  writeSection('allocate-crowd', markdown);
  process.stdout.write(markdown);
}

registerBench('allocate-crowd', benchCrowd);
