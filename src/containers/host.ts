// What this host can give a container now: cores, available memory, free disk under Docker's
// data root, GPUs, and whether the storage driver enforces a size.
import { execFile } from 'node:child_process';
import { readFile, statfs } from 'node:fs/promises';
import { cpus, freemem } from 'node:os';
import type { DockerInfo } from './docker.js';
import { storagePolicy, type HostResources } from './options.js';

async function availableMemory(): Promise<number> {
  try {
    const meminfo = await readFile('/proc/meminfo', 'utf8');
    const kib = /^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1];
    if (kib) return Number(kib) * 1024;
  } catch { /* not Linux */ }
  return freemem();
}

async function freeDisk(path: string): Promise<number> {
  for (const candidate of [path, '/']) {
    try {
      const s = await statfs(candidate);
      return s.bavail * s.bsize;
    } catch { /* Docker's root may live elsewhere (remote daemon) */ }
  }
  return 0;
}

/** NVIDIA GPUs as nvidia-smi lists them; 0 when nvidia-smi is absent or fails. */
export function countGpus(timeoutMs = 5000): Promise<number> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['-L'], { timeout: timeoutMs }, (err, stdout) => {
      if (err) return resolve(0);
      resolve(stdout.split('\n').filter((l) => l.startsWith('GPU ')).length);
    });
  });
}

export async function probeHost(info: DockerInfo, gpuCount: number): Promise<HostResources> {
  return {
    cpuCount: info.NCPU ?? cpus().length,
    availableMemoryBytes: await availableMemory(),
    freeDiskBytes: await freeDisk(info.DockerRootDir ?? '/var/lib/docker'),
    gpuCount,
    storage: storagePolicy(info),
  };
}
