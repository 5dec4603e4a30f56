// Which Docker daemon runs rentals, and whether the host may rent now. The socket is decided
// before anything runs (no I/O), so the miner can lock its data dir and bind the axon port
// before Docker is touched; prepare() then makes the storage pool, the rental daemon and the
// firewall. As root: the miner's own rental daemon on the btrfs pool (disk sizes enforced) and
// the host firewall; an operator's --docker-socket is used as given. What cannot be had is said
// once in the log and then on every Allocate that depends on it (503 with the reason).
import { DEFAULT_DOCKER_SOCKET } from '../containers/docker.js';
import type { Logger } from '../log.js';
import { keepDaemon, type DaemonKeeper, type KeeperPolicy, type KeeperState } from './daemon-keeper.js';
import { pingDaemon, pingSocket, runningBesidesStandbys } from './daemon-probe.js';
import { ensureFirewall, keepFirewall, type FirewallKeeper } from './firewall.js';
import { keepLxcfs, lxcfsLayout, type LxcfsKeeper } from './lxcfs.js';
import {
  ensureRentalDockerd, rentalDockerdPid, rentalHostLayoutFromEnv, restartUnderWay, stopRentalDockerd,
  HUNG_DOCKERD_STOP_TIMEOUT_MS, RENTAL_ADDRESS_POOL, RENTAL_DOCKERD_STOP_TIMEOUT_MS, type RentalHostLayout,
} from './rental-dockerd.js';
import { SwitchRefused, switchToRemappedDaemon } from './userns-switch.js';

export interface RentalEngine {
  socket: string;
  endpoint: string;
  /** The daemon runs here and the miner is root: a standby can be resized from the host. */
  local: boolean;
  /** Rentals run on the miner's own rental daemon, which it keeps alive (keepAlive). */
  keepsDaemon: boolean;
  /** Makes the pool, the rental daemon and the firewall ready; never throws. */
  prepare(): Promise<void>;
  /** Whether the host may rent now, and why not. */
  hostReady(): { applied: boolean; error?: string };
  /**
   * Keeps the miner's own rental daemon alive from now on (after prepare()); `onRestarted`
   * reconciles the rentals after each restart. Nothing for an operator's --docker-socket.
   */
  keepAlive(onRestarted: () => Promise<void>, policy?: Partial<KeeperPolicy>): void;
  /** The keeper's view of the rental daemon (undefined when it is not kept). */
  daemonState(): KeeperState | undefined;
  /** For /health: the pool's problem, the firewall's state, the rental daemon's and lxcfs's. */
  report(): { endpoint: string; pool?: string; firewall?: ReturnType<FirewallKeeper['state']>; daemon?: KeeperState; lxcfs?: ReturnType<LxcfsKeeper['report']> };
  /** A rental's own /proc view (LXCFS) for new containers; null: the host's. */
  viewMounts(): ReturnType<LxcfsKeeper['viewMounts']>;
  close(): void;
}

/** How long after a failed switch to user namespaces the next is tried [10 min]. */
export const SWITCH_RETRY_MS = 10 * 60_000;

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

export function planRentalEngine(opts: {
  dockerSocket?: string; stateDir: string; poolSizeBytes: number; allowUnisolated: boolean; log: Logger;
  /** The rental daemon's layout [rentalHostLayoutFromEnv(stateDir)]. */
  layout?: RentalHostLayout;
}): RentalEngine {
  const log = opts.log.child({ component: 'host' });
  const layout = opts.layout ?? rentalHostLayoutFromEnv(opts.stateDir);
  const usePool = opts.dockerSocket === undefined && isRoot();
  const socket = opts.dockerSocket ?? (usePool ? layout.socket : DEFAULT_DOCKER_SOCKET);
  const endpoint = `unix://${socket}`;
  let poolProblem: string | undefined;
  let firewall: FirewallKeeper | undefined;
  let keeper: DaemonKeeper | undefined;
  let closed = false;
  let lxcfs: LxcfsKeeper | undefined;
  /** While the daemon is switched to user namespaces, no rental is made on it (it would be lost). */
  let switching = false;
  /** A switch that failed (not refused) is tried again only after SWITCH_RETRY_MS: each try saves the base image. */
  let switchFailedAt = -Infinity;
  const unisolated = isRoot() ? undefined : 'the host firewall needs root; run the miner as root, or pass --allow-unisolated (development only)';
  return {
    socket,
    endpoint,
    local: isRoot(),
    keepsDaemon: usePool,
    async prepare() {
      if (usePool) {
        try {
          await ensureRentalDockerd(layout, { poolSizeBytes: opts.poolSizeBytes, onStep: (msg) => log.info(msg) });
          log.info({ endpoint, storageDriver: 'btrfs' }, 'rentals run on the rental Docker daemon; disk sizes are enforced');
        } catch (err) {
          poolProblem = (err as Error).message;
          log.error({ err: poolProblem }, 'no storage pool: this miner cannot rent until it is fixed');
        }
      } else if (opts.dockerSocket === undefined) {
        log.warn({ endpoint }, 'not root: rentals run on the system Docker daemon, where disk sizes may not be enforced');
      }
      if (isRoot()) firewall = await keepFirewall(RENTAL_ADDRESS_POOL, log);
      // Root only: LXCFS mounts FUSE for every user; without it rentals see the host's /proc.
      if (isRoot()) lxcfs = await keepLxcfs(lxcfsLayout(opts.stateDir), { log });
      else if (!opts.allowUnisolated) log.error(unisolated);
      if (opts.allowUnisolated) log.warn('--allow-unisolated: rentals are rented even when the host firewall cannot isolate them');
    },
    hostReady() {
      if (poolProblem) return { applied: false, error: `no storage pool: ${poolProblem}` };
      if (switching) return { applied: false, error: 'the rental Docker daemon is being switched to user namespaces' };
      if (opts.allowUnisolated) return { applied: true };
      if (unisolated) return { applied: false, error: unisolated };
      return firewall ? firewall.state() : { applied: false, error: 'the host firewall is being installed' };
    },
    keepAlive(onRestarted, policy) {
      if (!usePool || keeper || closed) return;
      keeper = keepDaemon({
        daemon: {
          endpoint,
          ping: (timeoutMs) => pingDaemon(layout.socket, timeoutMs),
          async info() {
            const answer = await pingSocket(layout.socket, 5000);
            if (!answer.ok) return answer;
            // Without user namespaces, what the remapped daemon could not see counts, stopped or not.
            const kept = answer.remapped === false ? await runningBesidesStandbys(layout.socket, 5000, true) : 0;
            // Without live restore, only what a restart would stop counts: a standby is made again.
            const running = answer.liveRestore === false ? await runningBesidesStandbys(layout.socket) : answer.containersRunning;
            return running === null || kept === null ? { ok: false } : { ...answer, containersRunning: running, containersKept: kept };
          },
          processAlive: () => rentalDockerdPid(layout) !== null || restartUnderWay(layout),
          // As at start: what is left of the old daemon goes, then pool, bridge, daemon; the firewall is put back.
          async restart(why) {
            if (why === 'userns remap') {
              if (Date.now() - switchFailedAt < SWITCH_RETRY_MS) return 'unchanged';
              switching = true;
              try {
                await switchToRemappedDaemon(layout, { poolSizeBytes: opts.poolSizeBytes, onStep: (msg) => log.info(msg) });
              } catch (err) {
                // Refused: a rental came meanwhile; the daemon is as it was and is looked at again.
                if (err instanceof SwitchRefused) { log.warn(err.message); return 'unchanged'; }
                switchFailedAt = Date.now();
                throw err;
              } finally {
                switching = false;
              }
              await ensureFirewall(RENTAL_ADDRESS_POOL, undefined, false).catch((err: unknown) => log.error({ err: (err as Error).message }, 'rental firewall rules cannot be installed'));
              return;
            }
            await stopRentalDockerd(layout, why === 'live restore' ? RENTAL_DOCKERD_STOP_TIMEOUT_MS : HUNG_DOCKERD_STOP_TIMEOUT_MS);
            await ensureRentalDockerd(layout, { poolSizeBytes: opts.poolSizeBytes, onStep: (msg) => log.info(msg) });
            poolProblem = undefined;
            await ensureFirewall(RENTAL_ADDRESS_POOL, undefined, false).catch((err: unknown) => log.error({ err: (err as Error).message }, 'rental firewall rules cannot be installed'));
          },
        },
        log,
        onRestarted,
        ...(policy ? { policy } : {}),
      });
    },
    daemonState: () => keeper?.state(),
    report: () => ({
      endpoint, ...(poolProblem ? { pool: poolProblem } : {}), ...(firewall ? { firewall: firewall.state() } : {}), ...(keeper ? { daemon: keeper.state() } : {}),
      ...(lxcfs ? { lxcfs: lxcfs.report() } : {}),
    }),
    viewMounts: () => lxcfs?.viewMounts() ?? null,
    close: () => {
      closed = true;
      keeper?.stop();
      firewall?.stop();
      lxcfs?.close();
    },
  };
}
