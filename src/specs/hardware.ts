// Probes this host for the Specs synapse: CPU, RAM, the data file system, NVIDIA GPUs and the
// Docker daemon. Reads are cached briefly and concurrent readers share one probe, so Specs is cheap.
import { execFile } from 'node:child_process';
import { readFile, statfs } from 'node:fs/promises';
import { cpus, freemem, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import type Dockerode from 'dockerode';
import type { SpecsOutput } from '../../protocol/index.js';
import { cachedReader } from '../cached.js';
import { cpuinfoField, NO_GPUS, parseMeminfo, parseNvidiaSmi, type GpuSpecs, type RamSpecs } from './parse.js';

export interface SpecsProbeOptions {
  /** The miner's data directory: its file system is the one reported as `hard_disk`. */
  dataDir: string;
  /** The Docker daemon to ask for its version; absent means `docker.available: false`. */
  docker?: Dockerode;
  /** How long a probe's result is served before the next read probes again. Default 5000 ms. */
  cacheMs?: number;
  /** nvidia-smi to run. Default `nvidia-smi` from PATH. */
  nvidiaSmiPath?: string;
  /** nvidia-smi may hang on a wedged driver: it is killed after this long. Default 5000 ms. */
  nvidiaSmiTimeoutMs?: number;
  /** Longest wait for the Docker daemon's version. Default 2000 ms. */
  dockerTimeoutMs?: number;
}

export interface SpecsProbe {
  read(): Promise<SpecsOutput>;
}

export const DEFAULT_SPECS_CACHE_MS = 5000;
const DEFAULT_NVIDIA_SMI_TIMEOUT_MS = 5000;
const DEFAULT_DOCKER_TIMEOUT_MS = 2000;
const NVIDIA_SMI_ARGS = ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'];

export function createSpecsProbe(opts: SpecsProbeOptions): SpecsProbe {
  return { read: cachedReader(() => probe(opts), opts.cacheMs ?? DEFAULT_SPECS_CACHE_MS) };
}

async function probe(opts: SpecsProbeOptions): Promise<SpecsOutput> {
  const [cpu, ram, hardDisk, gpu, docker] = await Promise.all([
    probeCpu(),
    probeRam(),
    probeDisk(opts.dataDir),
    probeGpus(opts.nvidiaSmiPath ?? 'nvidia-smi', opts.nvidiaSmiTimeoutMs ?? DEFAULT_NVIDIA_SMI_TIMEOUT_MS),
    probeDocker(opts.docker, opts.dockerTimeoutMs ?? DEFAULT_DOCKER_TIMEOUT_MS),
  ]);
  return { cpu, gpu, hard_disk: hardDisk, ram, docker };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return ''; // not Linux, or /proc not mounted: callers fall back to os.*
  }
}

async function probeCpu(): Promise<SpecsOutput['cpu']> {
  const cores = cpus();
  const cpuinfo = await readText('/proc/cpuinfo');
  // os.cpus() reports speed 0 on some virtual machines; /proc/cpuinfo then still has "cpu MHz".
  const mhz = cores[0]?.speed || Number(cpuinfoField(cpuinfo, 'cpu MHz') ?? 0) || 0;
  return {
    count: cores.length,
    frequency: mhz,
    vendor: cpuinfoField(cpuinfo, 'vendor_id') ?? cpuinfoField(cpuinfo, 'CPU implementer') ?? '',
    model: cores[0]?.model.trim() || cpuinfoField(cpuinfo, 'model name') || '',
  };
}

async function probeRam(): Promise<RamSpecs> {
  const parsed = parseMeminfo(await readText('/proc/meminfo'));
  if (parsed) return parsed;
  const total = totalmem();
  const free = freemem();
  return { total, available: free, used: total - free, free };
}

async function probeDisk(dataDir: string): Promise<SpecsOutput['hard_disk']> {
  // The data directory may not exist yet: its nearest existing ancestor is on the same file system.
  let path = resolve(dataDir);
  for (;;) {
    try {
      const fs = await statfs(path);
      const total = fs.blocks * fs.bsize;
      return { total, free: fs.bavail * fs.bsize, used: (fs.blocks - fs.bfree) * fs.bsize };
    } catch (err) {
      const parent = dirname(path);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === path) return { total: 0, free: 0, used: 0 };
      path = parent;
    }
  }
}

/** The host's NVIDIA GPUs as nvidia-smi lists them; none when it is absent, fails or hangs. */
export function probeGpus(nvidiaSmi: string, timeoutMs: number): Promise<GpuSpecs> {
  return new Promise((done) => {
    execFile(nvidiaSmi, NVIDIA_SMI_ARGS, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (error, stdout) => {
      // No nvidia-smi, no driver, or no answer in time: this host offers no GPUs.
      done(error ? { ...NO_GPUS, details: [] } : parseNvidiaSmi(stdout));
    });
  });
}

async function probeDocker(docker: Dockerode | undefined, timeoutMs: number): Promise<SpecsOutput['docker']> {
  if (!docker) return { available: false, version: '' };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('docker did not answer')), timeoutMs);
  });
  try {
    const version = await Promise.race([docker.version(), timeout]);
    return { available: true, version: String(version.Version ?? '') };
  } catch {
    return { available: false, version: '' };
  } finally {
    clearTimeout(timer);
  }
}
