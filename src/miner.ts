// The composition root: builds the miner's parts from its configuration and wires them
// into the axon. Nothing here does work of its own; every part is started and stopped here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519, type Hotkey } from '../protocol/index.js';
import { createAxon, type Axon } from './axon/server.js';
import { parseValidatorsFile, type AccessPolicy } from './axon/access.js';
import type { SynapsePlugin } from './axon/synapse.js';
import type { MinerConfig } from './config.js';
import { cachedReader } from './cached.js';
import { connectDocker, createContainerManager, dockerodeEngine } from './containers/index.js';
import { allocatePlugin } from './handlers/allocate.js';
import { challengePlugin } from './handlers/challenge.js';
import { specsPlugin } from './handlers/specs.js';
import { loadOrCreateHotkey } from './keystore.js';
import type { Logger } from './log.js';
import { createSpecsProbe } from './specs/hardware.js';
import { chooseRentalEngine } from './host/rental-engine.js';

export interface RunningMiner {
  hotkey: Hotkey;
  port: number;
  /** Re-reads the validators file (SIGHUP); a bad file keeps the old policy. */
  reloadValidators(): void;
  close(): Promise<void>;
}

/** Reads the access policy the options describe; throws with the file's name and line. */
export function loadAccessPolicy(config: Pick<MinerConfig, 'validatorsFile' | 'allowAny' | 'minStake'>): AccessPolicy {
  if (config.validatorsFile === undefined) {
    return { allowAny: config.allowAny, allow: new Map(), deny: new Set(), minStake: config.minStake };
  }
  let text: string;
  try {
    text = readFileSync(config.validatorsFile, 'utf8');
  } catch (err) {
    throw new Error(`--validators ${config.validatorsFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    const { allow, deny } = parseValidatorsFile(text);
    return { allowAny: false, allow, deny, minStake: config.minStake };
  } catch (err) {
    throw new Error(`--validators ${config.validatorsFile}: ${(err as Error).message}`);
  }
}


export async function startMiner(config: MinerConfig, log: Logger, extraPlugins: SynapsePlugin[] = []): Promise<RunningMiner> {
  const { hotkey, created, looseMode } = loadOrCreateHotkey(join(config.dataDir, 'hotkey.json'));
  if (created) log.info({ hotkey: hotkey.ss58Address, file: join(config.dataDir, 'hotkey.json') }, 'created a new miner hotkey');
  if (looseMode) log.warn({ file: join(config.dataDir, 'hotkey.json') }, 'the hotkey file is readable by other users: chmod 600 it');
  const access = loadAccessPolicy(config);
  if (config.allowAny) log.warn('--allow-any: ANY validator hotkey may allocate this machine. Use only for development.');
  else if (access.allow.size === 0) log.warn('no validators are allowed: pass --validators FILE (or --allow-any for development)');

  const rentalEngine = await chooseRentalEngine({
    ...(config.dockerSocket !== undefined ? { dockerSocket: config.dockerSocket } : {}),
    stateDir: config.stateDir, poolSizeBytes: config.poolSizeBytes, allowUnisolated: config.allowUnisolated, log,
  });
  const docker = connectDocker(rentalEngine.socket);
  const manager = createContainerManager({
    docker,
    dockerSocket: rentalEngine.socket,
    endpoint: rentalEngine.endpoint,
    localEngine: rentalEngine.local,
    containment: { pidsLimit: config.pidsLimit },
    ...(rentalEngine.isolation ? { isolation: rentalEngine.isolation } : {}),
    dataDir: config.dataDir,
    minerHotkey: hotkey.ss58Address,
    sshPort: config.sshPort,
    sshBind: config.sshBind,
    baseImage: { from: config.baseImageFrom },
    namePrefix: config.namePrefix,
    log,
  });
  await manager.start();

  const challenge = challengePlugin({
    maxDifficulty: config.challengeMaxDifficulty,
    deadlineMs: config.challengeTimeoutSeconds * 1000,
    // Kernels compiled by the warm-up are kept in the data dir, so a restart does not pay them again.
    hashcat: { path: config.hashcatPath, workload: config.hashcatWorkload, extraArgs: config.hashcatExtraArgs, stateDir: join(config.dataDir, 'hashcat') },
    log: log.child({ component: 'challenge' }),
  });
  const probe = createSpecsProbe({ dataDir: config.dataDir, docker });
  // /health needs no signature: anyone may call it, so Docker is asked at most once a second.
  const ping = dockerodeEngine(docker).ping;
  const dockerReachable = cachedReader(() => ping(1000), 1000);
  const rentalHealth = cachedReader(() => manager.health(), 1000);
  const axon: Axon = createAxon({
    hotkey,
    host: config.host,
    port: config.port,
    plugins: [specsPlugin(probe, () => ({ challenge: challenge.service.info() })), allocatePlugin(manager), challenge, ...extraPlugins],
    access,
    health: async () => ({
      docker: { reachable: await dockerReachable(), endpoint: rentalEngine.endpoint, ...(rentalEngine.poolProblem ? { pool: rentalEngine.poolProblem } : {}) },
      ...(rentalEngine.firewall ? { firewall: rentalEngine.firewall.state() } : {}),
      allocation: await rentalHealth(),
      challenge: challenge.service.info(),
    }),
    log: log.child({ component: 'axon' }),
  });
  const { port } = await axon.listen();
  log.info({ hotkey: hotkey.ss58Address, host: config.host, port, sshPort: config.sshPort, sshBind: config.sshBind, signatures: ed25519().name }, 'miner is listening');

  return {
    hotkey,
    port,
    reloadValidators() {
      try {
        const next = loadAccessPolicy(config);
        access.allow = next.allow;
        access.deny = next.deny;
        log.info({ allowed: next.allow.size, denied: next.deny.size }, 'validators file reloaded');
      } catch (err) {
        log.error({ err: (err as Error).message }, 'validators file not reloaded; the previous list stays in force');
      }
    },
    async close() {
      await axon.close();
      await Promise.all([manager.stop(), challenge.close()]);
      rentalEngine.close();
    },
  };
}
