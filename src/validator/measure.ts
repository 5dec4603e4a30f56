// What the probe measured inside a rental, read from its first line, and the comparison with
// what the check asked for and what the miner's Specs claim. Pure: tests call it directly.
import type { SpecsOutput } from '../../protocol/index.js';

export interface MeasuredGpu {
  name: string;
  memory_mib: number;
}

/** The report's `measured`: what the rental really gives. */
export interface Measured {
  /** Cores usable: the least of affinity, nproc, the cgroup cpuset and the CPU quota. */
  cores: number;
  /** The memory limit (cgroup v2 memory.max or v1 memory.limit_in_bytes), else MemTotal. */
  memory_bytes: number;
  /** Size of `/` (statvfs). */
  disk_bytes: number;
  gpus: MeasuredGpu[];
  /** The figures behind them, as the probe read them. */
  detail: {
    affinity: number | null;
    nproc: number | null;
    cpuset: number | null;
    /** Host CPUs the rental sees online (os.cpu_count): the machine behind Specs. */
    online: number | null;
    quota: number | null;
    memory_limit: number | null;
    memory_source: string;
    /** MemTotal: the machine's memory behind Specs. */
    host_memory_bytes: number | null;
    disk_free_bytes: number;
    /** Set when no GPU was found, saying what was looked for. */
    gpu_note: string | null;
    /** GPUs as PyTorch sees them; null when torch or CUDA is absent. */
    torch_gpus: MeasuredGpu[] | null;
  };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v.slice(0, 256) : null);

function gpuList(v: unknown): MeasuredGpu[] | null {
  if (!Array.isArray(v)) return null;
  return v.slice(0, 64).flatMap((g) => {
    const name = str((g as { name?: unknown })?.name);
    const mib = num((g as { memory_mib?: unknown })?.memory_mib);
    return name !== null && mib !== null ? [{ name, memory_mib: mib }] : [];
  });
}

/** The probe's `measured` object → Measured; throws a one-line reason when it is not one. */
export function parseMeasured(raw: unknown): Measured {
  const m = raw as { cores?: Record<string, unknown>; memory?: Record<string, unknown>; disk?: Record<string, unknown>; gpu?: Record<string, unknown> } | null;
  const cores = num(m?.cores?.count);
  const memory = num(m?.memory?.bytes);
  const disk = num(m?.disk?.bytes);
  const gpus = gpuList(m?.gpu?.gpus);
  if (cores === null || memory === null || disk === null || gpus === null) throw new Error('the probe\'s measurements are incomplete');
  return {
    cores, memory_bytes: memory, disk_bytes: disk, gpus,
    detail: {
      affinity: num(m!.cores!.affinity), nproc: num(m!.cores!.nproc), cpuset: num(m!.cores!.cpuset), online: num(m!.cores!.online),
      quota: num(m!.cores!.quota), memory_limit: num(m!.memory!.limit), memory_source: str(m!.memory!.source) ?? '',
      host_memory_bytes: num(m!.memory!.host_total), disk_free_bytes: num(m!.disk!.free) ?? 0,
      gpu_note: gpus.length === 0 ? str(m!.gpu!.note) ?? 'no GPU found' : null, torch_gpus: gpuList(m!.gpu!.torch),
    },
  };
}

/** What the check asked for (the test allocation's device_requirement). */
export interface Asked {
  cpu: { count: number };
  ram: { capacity: number };
  hard_disk: { capacity: number };
  gpu: { count?: number | 'all'; capacity?: number; type?: string };
}

export interface Tolerances {
  /** Memory may be this fraction short of the asked limit (page rounding) [0.01]. */
  memory: number;
  /** `/` may be this fraction smaller than the asked disk (file system overhead) [0.05]. */
  disk: number;
  /** The machine's MemTotal may be this fraction under Specs' ram.total [0.02]. */
  hostMemory: number;
  /** A GPU's memory may be this fraction under what Specs claims for it (driver reserve) [0.05]. */
  gpuMemory: number;
}

export const DEFAULT_TOLERANCES: Tolerances = Object.freeze({ memory: 0.01, disk: 0.05, hostMemory: 0.02, gpuMemory: 0.05 });

const GiB = 1024 ** 3;
const gib = (b: number) => `${(b / GiB).toFixed(2)} GiB`;

/**
 * Every way the rental gives less than was asked or than Specs claims; [] when it gives all.
 * Cores are whole: no tolerance. Specs describe the machine, so they are compared with what the
 * rental sees of the machine (online CPUs, MemTotal) and with the GPUs it was given.
 */
export function shortfalls(measured: Measured, asked: Asked, claims: SpecsOutput | null, tol: Tolerances = DEFAULT_TOLERANCES): string[] {
  const out: string[] = [];
  if (measured.cores < asked.cpu.count) out.push(`cores: ${measured.cores} usable, ${asked.cpu.count} asked`);
  if (measured.memory_bytes < asked.ram.capacity * (1 - tol.memory)) out.push(`memory: ${gib(measured.memory_bytes)} limit, ${gib(asked.ram.capacity)} asked`);
  if (measured.disk_bytes < asked.hard_disk.capacity * (1 - tol.disk)) out.push(`disk: ${gib(measured.disk_bytes)} at /, ${gib(asked.hard_disk.capacity)} asked`);
  const gpuAsked = asked.gpu.count === 'all' ? claims?.gpu.count ?? 1 : asked.gpu.count ?? 0;
  if (measured.gpus.length < gpuAsked) out.push(`GPUs: ${measured.gpus.length} found, ${gpuAsked} asked${measured.gpus.length === 0 ? ` (${measured.detail.gpu_note})` : ''}`);
  if (asked.gpu.type && measured.gpus.some((g) => !g.name.toLowerCase().includes(asked.gpu.type!.toLowerCase()))) {
    out.push(`GPU model: ${measured.gpus.map((g) => g.name).join(', ')}, ${asked.gpu.type} asked`);
  }
  const gpuMib = measured.gpus.reduce((s, g) => s + g.memory_mib, 0);
  if (gpuAsked > 0 && asked.gpu.capacity && gpuMib < asked.gpu.capacity * (1 - tol.gpuMemory)) out.push(`GPU memory: ${gpuMib} MiB, ${asked.gpu.capacity} MiB asked`);
  if (claims) {
    const online = measured.detail.online;
    if (online !== null && online < claims.cpu.count) out.push(`cores: the machine shows ${online} online, Specs claim ${claims.cpu.count}`);
    const host = measured.detail.host_memory_bytes;
    if (host !== null && host < claims.ram.total * (1 - tol.hostMemory)) out.push(`memory: the machine has ${gib(host)}, Specs claim ${gib(claims.ram.total)}`);
    const claimed = claims.gpu.details.map((d) => d.name.toLowerCase());
    for (const g of measured.gpus) {
      const match = claims.gpu.details.find((d) => d.name.toLowerCase() === g.name.toLowerCase());
      if (!match) out.push(`GPU model: ${g.name} given, Specs claim ${claimed.length ? claims.gpu.details.map((d) => d.name).join(', ') : 'no GPU'}`);
      else if (g.memory_mib < match.capacity * (1 - tol.gpuMemory)) out.push(`GPU memory: ${g.name} has ${g.memory_mib} MiB, Specs claim ${match.capacity} MiB`);
    }
  }
  return out;
}
