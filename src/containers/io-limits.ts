// Disk-IO limits of a rental on the block device that holds the pool (its loop device), scaled by
// the cores it rents, as Docker Engine options. Pure: the numbers, the rule and the translation.
// Docker turns them into blkio.throttle.* (cgroup v1) or io.max (cgroup v2); io-throttle.ts
// writes the same limits into a running container's cgroup (a claimed standby).
import type { ContainerCreateOptions } from 'dockerode';

type HostConfig = NonNullable<ContainerCreateOptions['HostConfig']>;

/**
 * The rule: each rented core brings this much of the pool's device, for reads and for writes
 * separately. A rental of n cores gets n times each figure, whatever else runs on the host.
 */
export interface IoRule {
  /** Bytes per second read per core. */
  readBytesPerSecondPerCore: number;
  /** Bytes per second written per core. */
  writeBytesPerSecondPerCore: number;
  /** Read operations per second per core. */
  readIopsPerCore: number;
  /** Write operations per second per core. */
  writeIopsPerCore: number;
  /**
   * Proportional share (Docker's BlkioWeight, 10–1000) per core, capped at 1000. Only where the
   * kernel has a proportional IO scheduler for cgroups (BFQ on v1; io.weight on v2): Docker
   * discards it elsewhere. Off (undefined) by default.
   */
  weightPerCore?: number;
}

const MiB = 1024 * 1024;

/**
 * 50 MiB/s and 4000 IOPS per core, each way. The issue measured a hog held to 100 MB/s leaving its
 * neighbour within 1.1× of its time alone; bench noisy-neighbour measures this rule. The IOPS are
 * high because btrfs turns one small O_DSYNC write into about eight device writes (copy-on-write
 * metadata and its log tree; 600 such writes counted 5152 writes on the pool's device): at 1000
 * IOPS a rental's own 200 × 4 KiB O_DSYNC writes could take no less than about 1.7 s, where they
 * took 0.64 s unthrottled.
 */
export const DEFAULT_IO_RULE: Readonly<IoRule> = Object.freeze({
  readBytesPerSecondPerCore: 50 * MiB,
  writeBytesPerSecondPerCore: 50 * MiB,
  readIopsPerCore: 4000,
  writeIopsPerCore: 4000,
});

/** One rental's limits on one block device. */
export interface IoLimits {
  /** The block device (e.g. the pool's `/dev/loop0`); Docker finds its major:minor. */
  device: string;
  readBps: number;
  writeBps: number;
  readIops: number;
  writeIops: number;
  /** BlkioWeight (10–1000), only when the rule has one. */
  weight?: number;
}

/** Why a rule is unusable, or null. */
export function ioRuleProblem(rule: IoRule): string | null {
  const positive = (v: number) => Number.isSafeInteger(v) && v > 0;
  if (!positive(rule.readBytesPerSecondPerCore) || !positive(rule.writeBytesPerSecondPerCore)) return 'IO bandwidth per core must be a positive whole number of bytes per second';
  if (!positive(rule.readIopsPerCore) || !positive(rule.writeIopsPerCore)) return 'IOPS per core must be a positive whole number';
  if (rule.weightPerCore !== undefined && !(Number.isSafeInteger(rule.weightPerCore) && rule.weightPerCore >= 10 && rule.weightPerCore <= 1000)) return 'IO weight per core must be a whole number from 10 to 1000';
  return null;
}

/** A rental's limits: `cores` × the rule, on `device`. */
export function rentalIoLimits(cores: number, device: string, rule: IoRule = DEFAULT_IO_RULE): IoLimits {
  if (!Number.isSafeInteger(cores) || cores < 1) throw new Error(`IO limits need a whole number of cores, got ${cores}`);
  if (!device.startsWith('/dev/')) throw new Error(`IO limits need a block device under /dev, got ${JSON.stringify(device)}`);
  const problem = ioRuleProblem(rule);
  if (problem) throw new Error(problem);
  const limits: IoLimits = {
    device,
    readBps: cores * rule.readBytesPerSecondPerCore,
    writeBps: cores * rule.writeBytesPerSecondPerCore,
    readIops: cores * rule.readIopsPerCore,
    writeIops: cores * rule.writeIopsPerCore,
  };
  if (rule.weightPerCore !== undefined) limits.weight = Math.min(1000, cores * rule.weightPerCore);
  return limits;
}

/** The HostConfig fields of the limits, in the Engine API's own names. */
export function blkioHostConfig(limits: IoLimits): Pick<HostConfig, 'BlkioDeviceReadBps' | 'BlkioDeviceWriteBps' | 'BlkioDeviceReadIOps' | 'BlkioDeviceWriteIOps' | 'BlkioWeight'> {
  const on = (rate: number) => [{ Path: limits.device, Rate: rate }];
  return {
    BlkioDeviceReadBps: on(limits.readBps),
    BlkioDeviceWriteBps: on(limits.writeBps),
    BlkioDeviceReadIOps: on(limits.readIops),
    BlkioDeviceWriteIOps: on(limits.writeIops),
    ...(limits.weight !== undefined ? { BlkioWeight: limits.weight } : {}),
  };
}

/**
 * `--disk-io-per-core`: `off`, or `SIZE,IOPS` per core for reads and for writes each (`50M,4000`,
 * the default). Null for off; throws a one-line error naming the flag. Pure.
 */
export function parseIoRule(text: string, parseSize: (s: string) => number | null): IoRule | null {
  const t = text.trim().toLowerCase();
  if (t === 'off') return null;
  const [rate = '', iops = '', ...rest] = t.split(',').map((s) => s.trim());
  const bytes = parseSize(rate);
  const ops = /^\d+$/.test(iops) ? Number(iops) : NaN;
  const rule: IoRule = { readBytesPerSecondPerCore: bytes ?? NaN, writeBytesPerSecondPerCore: bytes ?? NaN, readIopsPerCore: ops, writeIopsPerCore: ops };
  const problem = rest.length > 0 || bytes === null || bytes < MiB ? 'bytes per second must be a size of at least 1M' : ioRuleProblem(rule);
  if (problem) throw new Error(`--disk-io-per-core must be "off" or SIZE,IOPS per core like 50M,4000 (${problem}), not ${JSON.stringify(text)}`);
  return rule;
}

/** The flag's text of a rule (the default's is `50M,4000`). Pure. */
export function formatIoRule(rule: IoRule | null): string {
  return rule ? `${rule.writeBytesPerSecondPerCore / MiB}M,${rule.writeIopsPerCore}` : 'off';
}
