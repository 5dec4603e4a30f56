// A container's disk-IO throttles as the kernel reads them back from its cgroup (blkio.throttle.*
// on v1, io.max on v2), and the text a set of limits must read as.
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { IoLimits } from '../../src/containers/io-limits.js';
import { cgroupDirectory, cgroupMounts, ioCgroupVersion, processCgroup, v2IoMaxLine } from '../../src/containers/io-throttle.js';

export function cgroupLimits(pid: number): { version: 1 | 2; text: string } {
  const procCgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  const mounts = cgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
  const version = ioCgroupVersion(mounts, procCgroup);
  assert.ok(version, 'the container is in a blkio or unified hierarchy');
  if (version === 1) {
    const dir = cgroupDirectory(mounts.blkio!, processCgroup(procCgroup, 1)!);
    const files = ['read_bps_device', 'write_bps_device', 'read_iops_device', 'write_iops_device'];
    return { version, text: files.map((f) => `${f} ${readFileSync(join(dir, `blkio.throttle.${f}`), 'utf8').trim()}`).join('\n') };
  }
  return { version, text: readFileSync(join(cgroupDirectory(mounts.unified!, processCgroup(procCgroup, 2)!), 'io.max'), 'utf8').trim() };
}

/** `major:minor` of a block device node, from sysfs. */
export const majorMinorOf = (device: string) => readFileSync(`/sys/class/block/${basename(device)}/dev`, 'utf8').trim();

/** What cgroupLimits reads for `limits` on the device `majorMinor`. */
export const expectedCgroupLimits = (version: 1 | 2, limits: IoLimits, majorMinor: string) => version === 1
  ? [`read_bps_device ${majorMinor} ${limits.readBps}`, `write_bps_device ${majorMinor} ${limits.writeBps}`,
    `read_iops_device ${majorMinor} ${limits.readIops}`, `write_iops_device ${majorMinor} ${limits.writeIops}`].join('\n')
  : v2IoMaxLine(limits, majorMinor);
