// A real miner for tests: the axon (createAxon) with the Specs and Allocate synapses over a
// rental service on the real Docker daemon, everything on 127.0.0.1, names and labels
// unique to the run. close() stops the axon and removes every container and image it made.
import type Dockerode from 'dockerode';
import { generateHotkey, type Hotkey } from '../../protocol/index.js';
import { createAxon, type Axon } from '../../src/axon/server.js';
import type { SynapsePlugin } from '../../src/axon/synapse.js';
import type { RentalService } from '../../src/rentals/service.js';
import { allocatePlugin } from '../../src/handlers/allocate.js';
import { specsPlugin } from '../../src/handlers/specs.js';
import { silentLogger } from '../../src/log.js';
import { createSpecsProbe } from '../../src/specs/hardware.js';
import { openAccess } from './axon.js';
import { createRunRentals, freePort, requireDocker, RUN_LABEL, testRun, type RunRentalOptions, type TestRun } from './docker.js';

export interface TestMiner {
  /** ws://127.0.0.1:port of the axon. */
  url: string;
  port: number;
  hotkeySs58: string;
  hotkey: Hotkey;
  /** Host port the rented container's SSH is published on. */
  sshPort: number;
  manager: RentalService;
  run: TestRun;
  docker: Dockerode;
  close(): Promise<void>;
}

export interface TestMinerOptions {
  /** Short name put into container names and the run label. */
  area?: string;
  /** Plugins served beside Specs and Allocate (e.g. Challenge). */
  extraPlugins?: SynapsePlugin[];
  /** The Docker client the manager is given, made from the real one (a test may alter what it creates). */
  managerDocker?: (real: Dockerode) => Dockerode;
  /** The rental service's options beside the run's own (containment, say). */
  rentals?: RunRentalOptions;
}

export async function startTestMiner(opts: TestMinerOptions = {}): Promise<TestMiner> {
  const docker = await requireDocker();
  const run = testRun(docker, opts.area ?? 'miner');
  const hotkey = generateHotkey();
  let manager: RentalService | undefined;
  let axon: Axon | undefined;
  try {
    const sshPort = await freePort();
    const managerDocker = opts.managerDocker?.(docker) ?? docker;
    manager = createRunRentals(managerDocker, run, sshPort, { ...opts.rentals, minerHotkey: hotkey.ss58Address });
    await manager.start();
    await manager.baseImageReady();
    const probe = createSpecsProbe({ dataDir: run.dataDir, docker });
    axon = createAxon({
      hotkey,
      host: '127.0.0.1',
      port: 0,
      plugins: [specsPlugin(probe), allocatePlugin(manager), ...(opts.extraPlugins ?? [])],
      access: openAccess(),
      log: silentLogger(),
    });
    const { port } = await axon.listen();
    const started = { manager, axon };
    return {
      url: `ws://127.0.0.1:${port}`,
      port,
      hotkeySs58: hotkey.ss58Address,
      hotkey,
      sshPort,
      manager,
      run,
      docker,
      async close() {
        await started.axon.close().catch(() => undefined);
        await started.manager.stop().catch(() => undefined);
        await run.cleanup();
      },
    };
  } catch (err) {
    await axon?.close().catch(() => undefined);
    await manager?.stop().catch(() => undefined);
    await run.cleanup();
    throw err;
  }
}

/**
 * The miner's rented containers (production or test role) of this run: the ones its ledger
 * holds, leaving out a warm container kept started while idle.
 */
export async function rentedContainers(miner: TestMiner): Promise<Dockerode.ContainerInfo[]> {
  const all = await miner.docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${miner.run.id}`] } });
  const held = new Set(miner.manager.ledger.all().map((r) => r.workload?.container).filter(Boolean));
  return all.filter((c) => held.has(c.Id));
}
