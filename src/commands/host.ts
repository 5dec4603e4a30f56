// `compute-miner host setup|status`: makes this machine ready to rent (the storage pool, the
// rental Docker daemon, the firewall) without starting a miner, or shows where it stands.
// The miner does the same setup itself at start; the bootstrap runs `host setup` ahead.
import { parseArgs } from 'node:util';
import { ensureFirewall } from '../host/firewall.js';
import { poolStatus, DEFAULT_POOL_SIZE_BYTES } from '../host/pool.js';
import { ensureRentalDockerd, pingSocket, rentalHostLayout, DEFAULT_STATE_DIR, RENTAL_ADDRESS_POOL } from '../host/rental-dockerd.js';
import { formatSize, parseSize } from '../sizes.js';
import { UsageError } from './usage.js';

const USAGE = `Usage: compute-miner host <setup|status> [options]

  setup    create and mount the storage pool, start the rental Docker daemon, install the firewall (root)
  status   show the pool, the rental daemon and the firewall

  --state-dir DIR    storage pool and rental daemon state [${DEFAULT_STATE_DIR}]
  --pool-size SIZE   size of a new storage pool [${formatSize(DEFAULT_POOL_SIZE_BYTES)}]
  --json             one JSON document on stdout
`;

export async function runHost(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { 'state-dir': { type: 'string' }, 'pool-size': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const [action, extra] = positionals;
  if (extra !== undefined || (action !== 'setup' && action !== 'status')) throw new UsageError(`host needs "setup" or "status"\n\n${USAGE}`);
  const size = values['pool-size'] === undefined ? DEFAULT_POOL_SIZE_BYTES : parseSize(values['pool-size']);
  if (size === null) throw new UsageError(`--pool-size must be a size like 32G, not ${JSON.stringify(values['pool-size'])}`);
  const layout = rentalHostLayout(values['state-dir'] ?? DEFAULT_STATE_DIR);
  const say = (msg: string) => { if (!values.json) process.stderr.write(`${msg}\n`); };
  if (action === 'setup') {
    const daemon = await ensureRentalDockerd(layout, { poolSizeBytes: size, onStep: say });
    await ensureFirewall(RENTAL_ADDRESS_POOL);
    say(`rental Docker daemon on ${daemon.endpoint}; firewall installed`);
  }
  const pool = poolStatus(layout.pool);
  const daemon = await pingSocket(layout.socket);
  const report = {
    pool: pool ? { image: pool.image, mount: pool.mountPoint, size_bytes: pool.sizeBytes, free_bytes: pool.freeBytes } : null,
    daemon: { endpoint: `unix://${layout.socket}`, answering: daemon.ok, ...(daemon.driver ? { storage_driver: daemon.driver } : {}) },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stdout.write(pool ? `pool     ${pool.image} on ${pool.mountPoint}: ${formatSize(pool.sizeBytes)}, ${formatSize(pool.freeBytes)} free\n` : `pool     not mounted (${layout.pool.image})\n`);
    process.stdout.write(`daemon   ${report.daemon.endpoint}: ${daemon.ok ? `answering, ${daemon.driver} storage` : 'not answering'}\n`);
  }
  return pool && daemon.ok ? 0 : 1;
}
