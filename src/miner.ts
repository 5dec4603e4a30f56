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
import { connectDocker, dockerodeEngine } from './containers/index.js';
import { composeRentals, hostsFromFile, type HostSetup } from './fleet/compose.js';
import { readHostsFile } from './fleet/hosts-file.js';
import { fleetSpecsSource } from './fleet/specs-source.js';
import { registerFleetMetrics } from './fleet/metrics.js';
import { allocatePlugin } from './handlers/allocate.js';
import { challengePlugin } from './handlers/challenge.js';
import { specsPlugin } from './handlers/specs.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { createProgress } from './progress.js';
import { statusCollector } from './status/document.js';
import { requestHistory, type RequestHistory } from './status/history.js';
import { statusRoutes } from './status/page.js';
import { PACKAGE_VERSION } from './version.js';
import { loadOrCreateHotkey } from './keystore.js';
import { registerLogMetrics, type Logger } from './log.js';
import { createSpecsProbe } from './specs/hardware.js';
import { planRentalEngine } from './host/rental-engine.js';
import { registerRentalDaemonMetrics } from './host/daemon-metrics.js';

/** Checking an existing base image takes less than this; longer is a build, announced as such. */
const BASE_IMAGE_CHECK_MS = 1500;

/** How long after the base image is ready the standby container may take to start. */
const STANDBY_WAIT_MS = 30_000;

/** Logs once whether the standby container is up, after the base image is ready (the manager starts it then). */
function announceStandby(manager: { state(): { standby: boolean; allocated: boolean } }, log: Logger): void {
  const until = Date.now() + STANDBY_WAIT_MS;
  const look = () => {
    const { standby, allocated } = manager.state();
    if (standby) return log.info('warm container started: the next rental is served from it');
    if (allocated) return log.info('no warm container while every SSH port is rented out');
    if (Date.now() > until) return log.warn('no warm container: each rental starts its own (see the log above for why)');
    setTimeout(look, 250).unref();
  };
  look();
}

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


export interface StartHooks {
  /** Called as soon as the validators file can be re-read (the axon answers before start-up ends). */
  onReloadable?: (reload: () => void) => void;
}

export async function startMiner(config: MinerConfig, log: Logger, extraPlugins: SynapsePlugin[] = [], hooks: StartHooks = {}): Promise<RunningMiner> {
  // Order matters: the data dir is locked and the axon port bound before Docker is touched,
  // so a second start on the same data dir or port changes nothing (not even the standby).
  const lock = await lockDataDir(config.dataDir);
  const cleanup: (() => Promise<void>)[] = [() => lock.release()];
  const undo = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  };
  try {
    return await startLocked(config, log, extraPlugins, lock, cleanup, hooks);
  } catch (err) {
    await undo();
    throw err;
  }
}

async function startLocked(config: MinerConfig, log: Logger, extraPlugins: SynapsePlugin[], lock: DataDirLock, cleanup: (() => Promise<void>)[], hooks: StartHooks): Promise<RunningMiner> {
  const hotkeyFile = join(config.dataDir, 'hotkey.json');
  const { hotkey, created, looseMode } = loadOrCreateHotkey(hotkeyFile);
  if (created) log.info({ file: hotkeyFile }, 'created a new miner hotkey');
  if (looseMode) log.warn({ file: hotkeyFile }, 'the hotkey file is readable by other users: chmod 600 it');
  const access = loadAccessPolicy(config);
  const reloadValidators = () => {
    try {
      const next = loadAccessPolicy(config);
      access.allow = next.allow;
      access.deny = next.deny;
      log.info({ allowed: next.allow.size, denied: next.deny.size }, 'validators file reloaded');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'validators file not reloaded; the previous list stays in force');
    }
  };
  hooks.onReloadable?.(reloadValidators);
  if (config.allowAny) log.warn('--allow-any: ANY validator hotkey may allocate this machine. Use only for development.');
  else if (access.allow.size === 0) log.warn('no validators are allowed: pass --validators FILE (or --allow-any for development)');
  else log.info({ allowed: access.allow.size, denied: access.deny.size, file: config.validatorsFile }, 'validators loaded');
  const progress = createProgress({ log });

  // With a hosts file, rentals run on the engines it names (each host prepared by its operator);
  // without, on this machine's rental daemon.
  const hostEntries = config.hostsFile !== undefined ? readHostsFile(config.hostsFile) : null;
  const rentalEngine = hostEntries ? null : planRentalEngine({
    ...(config.dockerSocket !== undefined ? { dockerSocket: config.dockerSocket } : {}),
    stateDir: config.stateDir, poolSizeBytes: config.poolSizeBytes, allowUnisolated: config.allowUnisolated, log,
  });
  if (rentalEngine) cleanup.push(async () => rentalEngine.close());
  const hosts: HostSetup[] = hostEntries ? hostsFromFile(hostEntries, process.getuid?.() === 0) : [{
    name: 'local',
    docker: connectDocker(rentalEngine!.socket), // a client only: no request yet
    endpoint: rentalEngine!.endpoint,
    localEngine: rentalEngine!.local,
    sshBind: config.sshBind,
    sshPorts: config.sshPorts,
    renterPortPool: config.renterPortPool,
    hostReady: () => rentalEngine!.hostReady(),
  }];
  const docker = hosts[0]!.docker;
  const rentals = composeRentals({
    common: {
      containment: { pidsLimit: config.pidsLimit, nofile: config.nofile, logMaxBytes: config.logMaxBytes, logFiles: config.logFiles },
      minerHotkey: hotkey.ss58Address,
      baseImage: { from: config.baseImageFrom },
      ioRule: config.diskIoPerCore,
      // This machine's LXCFS, so only with its own rental engine (a hosts file's engines have their own /proc).
      ...(rentalEngine ? { viewMounts: () => rentalEngine.viewMounts() } : {}),
      log,
    },
    dataDir: config.dataDir,
    namePrefix: config.namePrefix,
    hosts,
    renterPorts: config.renterPorts,
    warm: config.standby,
    log,
  });
  const challenge = challengePlugin({
    maxDifficulty: config.challengeMaxDifficulty,
    deadlineMs: config.challengeTimeoutSeconds * 1000,
    // Kernels compiled by the warm-up are kept in the data dir, so a restart does not pay them again.
    hashcat: { path: config.hashcatPath, workload: config.hashcatWorkload, extraArgs: config.hashcatExtraArgs, stateDir: join(config.dataDir, 'hashcat') },
    log: log.child({ component: 'challenge' }),
    progress,
  });
  cleanup.push(() => challenge.close());
  const machineProbe = createSpecsProbe({ dataDir: config.dataDir, docker });
  // Specs report the totals, the free room and each host (PROTOCOL.md, "Version 1 additions"), one host as many.
  const probe = fleetSpecsSource(rentals, hostEntries ? null : { host: 'local', probe: machineProbe });
  // /health and the status page need no signature: anyone may call them, so Docker is asked at most once a second.
  const ping = dockerodeEngine(docker).ping;
  const dockerReachable = cachedReader(() => ping(1000), 1000);
  const rentalList = cachedReader(() => rentals.rentals(), 1000);
  const startedAt = Date.now();
  // The axon's metrics registry exists once the axon does; the history samples it from then on.
  let history: RequestHistory | undefined;
  const collect = statusCollector({
    hotkey: hotkey.ss58Address,
    version: PACKAGE_VERSION,
    startedAt,
    dockerReachable,
    rentalDaemon: () => rentalEngine?.daemonState(),
    manager: () => rentals.state(),
    rentals: rentalList,
    // Read from the ledger: a host that does not answer marks only its own rentals.
    rentalsOnManyEngines: true,
    // Every host, one or many: each says what it has free.
    hosts: () => rentals.state().hosts,
    history: () => history!,
    challenge: () => challenge.service.info(),
    challengeQueued: () => challenge.service.queued(),
  });
  const axon: Axon = createAxon({
    hotkey,
    host: config.host,
    port: config.port,
    plugins: [specsPlugin(probe, () => ({ challenge: challenge.service.info() })), allocatePlugin(rentals), challenge, ...extraPlugins],
    access,
    health: async () => {
      const reachable = await dockerReachable();
      const state = rentals.state();
      const list = await rentalList().catch(() => []);
      const first = list[0];
      const isolated = rentalEngine?.hostReady().applied ?? true;
      return {
        // One answer for a load balancer or a watchdog: every host answers, has its base image, and rentals are isolated.
        ok: reachable && isolated && state.hosts.every((h) => h.up && h.baseImage === 'ready'),
        docker: { reachable, ...(rentalEngine?.report() ?? {}) },
        // Deadlines as ISO times, and each rental's container state beside the ledger's record.
        allocation: {
          ...state, ...(state.deadline !== undefined ? { deadline: new Date(state.deadline).toISOString() } : {}),
          ...(first ? { container: first.state } : {}),
          rentals: list,
        },
        challenge: challenge.service.info(),
      };
    },
    routes: statusRoutes(collect, (err) => log.warn({ err: (err as Error).message }, 'status page failed')),
    log: log.child({ component: 'axon' }),
  });
  history = requestHistory(axon.metrics);
  registerFleetMetrics(axon.metrics, rentals);
  registerLogMetrics(axon.metrics);
  if (rentalEngine) registerRentalDaemonMetrics(axon.metrics, rentalEngine);
  cleanup.push(async () => history?.stop());
  let port: number;
  try {
    ({ port } = await axon.listen());
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`--port ${config.port}: the port is in use by another process on ${config.host}; stop it or choose another --port`);
    if (code === 'EACCES') throw new Error(`--port ${config.port}: not allowed to listen on it (ports below 1024 need root)`);
    if (code === 'EADDRNOTAVAIL') throw new Error(`--host ${config.host}: no such address on this machine`);
    throw err;
  }
  cleanup.push(() => axon.close());
  lock.describe({ port });

  // Docker is touched from here on: the data dir is locked and the port is ours.
  await rentalEngine?.prepare();
  await rentals.start();
  cleanup.push(() => rentals.stop());
  // A rental daemon that dies or hangs is started again, and the rentals reconciled with it.
  rentalEngine?.keepAlive(() => rentals.reconcileAgain());
  const state = rentals.state();
  // The base image and the standby are said in their own lines below, once each is known.
  log.info({ rentals: state.hosts.reduce((n, h) => n + h.rentals, 0), ...(state.deadline ? { deadline: new Date(state.deadline).toISOString() } : {}) }, 'containers reconciled');
  const ready = () => rentals.baseImageReady();
  if (state.baseImage === 'building') {
    // Checking an existing image takes a moment; only a real build is announced as long work.
    const quick = await Promise.race([ready().then(() => true, () => true), new Promise<false>((r) => setTimeout(r, BASE_IMAGE_CHECK_MS, false).unref())]);
    if (quick) {
      if (rentals.state().baseImage === 'ready') log.info('base image ready');
    } else {
      const work = progress.start('base image build', { image: 'ssh-image-base', from: config.baseImageFrom });
      ready().then(
        () => work.end('ready (allocations are served from now on)'),
        (err: unknown) => work.end('failed', { err: (err as Error).message }, 'warn'),
      );
    }
  }
  void ready().then(() => announceStandby(rentals, log), () => undefined);
  log.info({
    hotkey: hotkey.ss58Address, host: config.host, port, signatures: ed25519().name,
    ...(hostEntries ? { hosts: hostEntries.map((h) => h.name) } : { sshPorts: config.sshPorts.text, sshBind: config.sshBind }),
  }, 'miner is listening');

  return {
    hotkey,
    port,
    reloadValidators,
    async close() {
      history?.stop();
      await axon.close();
      await Promise.all([rentals.stop(), challenge.close()]);
      rentalEngine?.close();
      await lock.release();
    },
  };
}
