// What this host can give a container now: cores, available memory, free disk under Docker's
// data root, GPUs, and whether the storage driver enforces a size.
import { readFile, statfs } from 'node:fs/promises';
import { cpus, freemem } from 'node:os';
import { probeGpus } from '../specs/hardware.js';
import { parseMeminfo } from '../specs/parse.js';
import type { DockerInfo } from './docker.js';
import type { HostResources, StoragePolicy } from './options.js';

async function availableMemory(): Promise<number> {
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => ''); // not Linux
  return parseMeminfo(meminfo)?.available ?? freemem();
}

async function diskOf(path: string): Promise<{ free: number; total: number }> {
  for (const candidate of [path, '/']) {
    try {
      const s = await statfs(candidate);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch { /* Docker's root may live elsewhere (remote daemon) */ }
  }
  return { free: 0, total: 0 };
}

/** NVIDIA GPUs as nvidia-smi lists them (the Specs probe's own reading); 0 without. */
export async function countGpus(timeoutMs = 5000): Promise<number> {
  return (await probeGpus('nvidia-smi', timeoutMs)).count;
}

/**
 * `gpuCount` and `storage` are the caller's: both are probed once per miner, not per request.
 * `local`: the engine runs on this machine, so memory and disk are read here. A remote engine
 * is known only through its API: its MemTotal, and no disk figure (its driver sizes each rental).
 */
export async function probeHost(info: DockerInfo, gpuCount: number, storage: StoragePolicy, local = true): Promise<HostResources> {
  const totalMemoryBytes = info.MemTotal ?? 0;
  if (!local) {
    return { cpuCount: info.NCPU ?? 0, availableMemoryBytes: totalMemoryBytes, freeDiskBytes: Number.MAX_SAFE_INTEGER, gpuCount, storage, totalMemoryBytes, totalDiskBytes: null };
  }
  const disk = await diskOf(info.DockerRootDir ?? '/var/lib/docker');
  return {
    cpuCount: info.NCPU ?? cpus().length,
    availableMemoryBytes: await availableMemory(),
    freeDiskBytes: disk.free,
    gpuCount,
    storage,
    totalMemoryBytes,
    totalDiskBytes: disk.total,
  };
}
