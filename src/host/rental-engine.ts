// Which Docker daemon runs rentals, and whether they are isolated: decided once at start.
// As root, the miner's own rental daemon on the storage pool (disk sizes enforced) and the host
// firewall; an operator's explicit --docker-socket is used as given. What cannot be had is
// said once in the log and then on every reply that depends on it, never silently.
import { DEFAULT_DOCKER_SOCKET } from '../containers/docker.js';
import type { Logger } from '../log.js';
import { keepFirewall, type FirewallKeeper } from './firewall.js';
import { ensureRentalDockerd, rentalHostLayout, RENTAL_ADDRESS_POOL } from './rental-dockerd.js';

export interface RentalEngine {
  socket: string;
  endpoint: string;
  /** The daemon runs here and the miner is root: a standby can be resized from the host. */
  local: boolean;
  /** Why the pool is not in use, when it is not. */
  poolProblem?: string;
  firewall?: FirewallKeeper;
  /** Undefined when isolation is not required (--allow-unisolated). */
  isolation?: () => { applied: boolean; error?: string };
  close(): void;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

export async function chooseRentalEngine(opts: {
  dockerSocket?: string; stateDir: string; poolSizeBytes: number; allowUnisolated: boolean; log: Logger;
}): Promise<RentalEngine> {
  const log = opts.log.child({ component: 'host' });
  let socket = opts.dockerSocket;
  let poolProblem: string | undefined;
  if (socket === undefined) {
    try {
      const daemon = await ensureRentalDockerd(rentalHostLayout(opts.stateDir), { poolSizeBytes: opts.poolSizeBytes, onStep: (msg) => log.info(msg) });
      socket = daemon.socket;
      log.info({ endpoint: daemon.endpoint, storageDriver: 'btrfs' }, 'rentals run on the rental Docker daemon; disk sizes are enforced');
    } catch (err) {
      poolProblem = (err as Error).message;
      socket = DEFAULT_DOCKER_SOCKET;
      log.error({ err: poolProblem, fallback: `unix://${socket}` }, 'no storage pool: rentals run on the system Docker daemon, where disk sizes may not be enforced');
    }
  }
  let firewall: FirewallKeeper | undefined;
  let isolation: RentalEngine['isolation'];
  if (isRoot()) {
    firewall = await keepFirewall(RENTAL_ADDRESS_POOL, log);
    if (!opts.allowUnisolated) isolation = firewall.state;
  } else if (!opts.allowUnisolated) {
    const error = 'the host firewall needs root; run the miner as root, or pass --allow-unisolated (development only)';
    log.error(error);
    isolation = () => ({ applied: false, error });
  }
  if (opts.allowUnisolated) log.warn('--allow-unisolated: rentals are rented even when the host firewall cannot isolate them');
  return {
    socket,
    endpoint: `unix://${socket}`,
    local: isRoot(),
    ...(poolProblem ? { poolProblem } : {}),
    ...(firewall ? { firewall } : {}),
    ...(isolation ? { isolation } : {}),
    close: () => firewall?.stop(),
  };
}
