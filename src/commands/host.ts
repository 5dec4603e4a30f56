// `compute-miner host setup|status|restart-daemon`: makes this machine ready to rent (the
// storage pool, the rental Docker daemon, the firewall) without starting a miner, shows where it
// stands, or restarts the rental daemon on purpose (an upgrade of Docker). The miner does the
// same setup itself at start; the bootstrap runs `host setup` ahead.
import { parseArgs } from 'node:util';
import { pingSocket, runningBesidesStandbys } from '../host/daemon-probe.js';
import { ensureFirewall } from '../host/firewall.js';
import { poolStatus, DEFAULT_POOL_SIZE_BYTES } from '../host/pool.js';
import {
  ensureRentalDockerd, rentalHostLayoutFromEnv, restartRentalDockerd, DEFAULT_STATE_DIR, RENTAL_ADDRESS_POOL, type RentalDaemon, type RentalHostLayout,
} from '../host/rental-dockerd.js';
import { SwitchRefused, switchToRemappedDaemon } from '../host/userns-switch.js';
import { formatSize, parseSize } from '../sizes.js';
import { UsageError } from './usage.js';

const ACTIONS = ['setup', 'status', 'restart-daemon'];

const USAGE = `Usage: compute-miner host <setup|status|restart-daemon> [options]

  setup            create and mount the storage pool, start the rental Docker daemon (user namespaces on; an
                   older daemon holding nothing but standbys is switched to them), install the firewall (root)
  status           show the pool, the rental daemon and the firewall
  restart-daemon   restart the rental Docker daemon (after an upgrade of Docker); with live restore the
                   rentals keep running. A daemon without live restore (started by an older release) that
                   runs containers is not restarted unless --force is given: they would be stopped. A daemon
                   without user namespaces (an older release) is switched to them when it holds nothing
                   but standbys; otherwise it is restarted as it was (root)

  --state-dir DIR    storage pool and rental daemon state [${DEFAULT_STATE_DIR}]
  --pool-size SIZE   size of a new storage pool [${formatSize(DEFAULT_POOL_SIZE_BYTES)}]
  --force            restart-daemon: even when containers would be stopped
  --json             one JSON document on stdout
`;

export async function runHost(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        'state-dir': { type: 'string' }, 'pool-size': { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const [action, extra] = positionals;
  if (extra !== undefined || action === undefined || !ACTIONS.includes(action)) throw new UsageError(`host needs "setup", "status" or "restart-daemon"\n\n${USAGE}`);
  if (values.force && action !== 'restart-daemon') throw new UsageError('--force goes only with host restart-daemon');
  const size = values['pool-size'] === undefined ? DEFAULT_POOL_SIZE_BYTES : parseSize(values['pool-size']);
  if (size === null) throw new UsageError(`--pool-size must be a size like 32G, not ${JSON.stringify(values['pool-size'])}`);
  let layout;
  try {
    layout = rentalHostLayoutFromEnv(values['state-dir'] ?? DEFAULT_STATE_DIR);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const say = (msg: string) => { if (!values.json) process.stderr.write(`${msg}\n`); };
  if (action === 'setup') {
    let daemon = await ensureRentalDockerd(layout, { poolSizeBytes: size, onStep: say });
    if (!daemon.remapped) daemon = await switchOrSay(layout, size, say) ?? daemon;
    await ensureFirewall(RENTAL_ADDRESS_POOL);
    say(`rental Docker daemon on ${daemon.endpoint}; firewall installed`);
  }
  if (action === 'restart-daemon') {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('host restart-daemon needs root');
    const before = await pingSocket(layout.socket, 5000);
    // Without live restore, a restart stops every container: the renters' work would be lost.
    const running = before.ok && before.liveRestore === false ? await runningBesidesStandbys(layout.socket) : 0;
    if (running !== 0 && !values.force) {
      throw new Error(`the rental Docker daemon runs without live restore (started by an older release) and ${running ?? 'an unknown number of'} running container(s) besides standbys: a restart would stop them. Restart it once they have ended (a running miner does so by itself), or pass --force`);
    }
    const started = Date.now();
    const daemon = (before.ok && before.remapped === false ? await switchOrSay(layout, size, say) : null)
      ?? await restartRentalDockerd(layout, { poolSizeBytes: size, onStep: say });
    await ensureFirewall(RENTAL_ADDRESS_POOL, undefined, false);
    say(`rental Docker daemon restarted on ${daemon.endpoint} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const pool = poolStatus(layout.pool);
  const daemon = await pingSocket(layout.socket);
  const report = {
    pool: pool ? { image: pool.image, mount: pool.mountPoint, size_bytes: pool.sizeBytes, free_bytes: pool.freeBytes } : null,
    daemon: {
      endpoint: `unix://${layout.socket}`, answering: daemon.ok, ...(daemon.driver ? { storage_driver: daemon.driver } : {}),
      ...(daemon.ok ? { live_restore: daemon.liveRestore, userns_remap: daemon.remapped, containers_running: daemon.containersRunning } : {}),
    },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stdout.write(pool ? `pool     ${pool.image} on ${pool.mountPoint}: ${formatSize(pool.sizeBytes)}, ${formatSize(pool.freeBytes)} free\n` : `pool     not mounted (${layout.pool.image})\n`);
    process.stdout.write(`daemon   ${report.daemon.endpoint}: ${daemon.ok ? `answering, ${daemon.driver} storage, live restore ${daemon.liveRestore ? 'on' : 'off'}, user namespaces ${daemon.remapped ? 'on' : 'off'}, ${daemon.containersRunning} running container(s)` : 'not answering'}\n`);
  }
  return pool && daemon.ok ? 0 : 1;
}

/** Switches a daemon without user namespaces to them; null, said why, while it holds more than standbys. */
async function switchOrSay(layout: RentalHostLayout, poolSizeBytes: number, say: (msg: string) => void): Promise<RentalDaemon | null> {
  try {
    return await switchToRemappedDaemon(layout, { poolSizeBytes, onStep: say });
  } catch (err) {
    if (!(err instanceof SwitchRefused)) throw err;
    say(`${err.message}; until then root in its rentals is root on the host`);
    return null;
  }
}
