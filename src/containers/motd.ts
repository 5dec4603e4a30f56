// The rental's /etc/motd: the limits the renter actually got (cores, memory, disk, GPUs,
// expiry), shown by sshd at every interactive login. Handed to the entry script with the
// credentials at allocation time, so it states this rental's figures, not the image's.
import { formatSize } from '../sizes.js';
import { NOTICES_PATH } from '../rentals/events.js';

export interface MotdPlan {
  /** The cpuset the rental is pinned to ("0-3", "1,3"). */
  cpuset: string;
  memoryBytes: number;
  diskBytes: number;
  /** Whether the storage driver enforces `diskBytes` (else it is the requested size only). */
  diskEnforced: boolean;
  gpus: number | 'all';
  /** Milliseconds since the epoch. */
  deadline: number;
}

/** Cores in a cpuset list ("0-3,6" → 5). */
export function cpusetCount(cpuset: string): number {
  let count = 0;
  for (const part of cpuset.split(',')) {
    const [from, to] = part.split('-').map((n) => Number.parseInt(n, 10));
    if (from === undefined || !Number.isInteger(from)) continue;
    count += to !== undefined && Number.isInteger(to) && to >= from ? to - from + 1 : 1;
  }
  return count;
}

/** The motd's text (pure). */
export function motdText(plan: MotdPlan): string {
  const cores = cpusetCount(plan.cpuset);
  const gpus = plan.gpus === 'all' ? 'all of the host' : plan.gpus === 0 ? 'none' : String(plan.gpus);
  const disk = `${formatSize(plan.diskBytes)}${plan.diskEnforced ? '' : ' requested (not enforced by this host\'s storage)'}`;
  return [
    'compute-miner rental',
    `  cores:   ${cores} (cpuset ${plan.cpuset})`,
    `  memory:  ${formatSize(plan.memoryBytes)}`,
    `  disk:    ${disk}`,
    `  GPUs:    ${gpus}`,
    `  expires: ${new Date(plan.deadline).toISOString().replace(/\.\d{3}Z$/, 'Z')} (UTC); the container and its files are removed then`,
    '  pip install works for root (/etc/pip.conf); git, curl, wget, vim, tmux, gcc/make are installed',
    `  notices: ${NOTICES_PATH} (the miner's messages: memory limit hit, restarts, the end drawing near)`,
    '',
  ].join('\n');
}
