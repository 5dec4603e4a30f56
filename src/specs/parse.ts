// Pure translations of what the host reports (nvidia-smi, /proc) into Specs fields.

export interface GpuSpecs {
  count: number;
  /** Total memory of all GPUs, MiB. */
  capacity: number;
  details: { name: string; capacity: number }[];
}

export const NO_GPUS: Readonly<GpuSpecs> = Object.freeze({ count: 0, capacity: 0, details: [] });

// "NVIDIA GeForce RTX 4090, 24564": the name may itself hold commas, so the last one splits.
const GPU_LINE = /^(.*\S)\s*,\s*(\d+)\s*$/;

/** Output of `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`; unreadable lines are skipped. */
export function parseNvidiaSmi(output: string): GpuSpecs {
  const details: GpuSpecs['details'] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = GPU_LINE.exec(line.trim());
    if (!match) continue;
    const capacity = Number(match[2]);
    if (!Number.isSafeInteger(capacity)) continue;
    details.push({ name: match[1]!, capacity });
  }
  return { count: details.length, capacity: details.reduce((sum, gpu) => sum + gpu.capacity, 0), details };
}

export interface RamSpecs {
  total: number;
  available: number;
  used: number;
  free: number;
}

/** /proc/meminfo in bytes; `used` is what is not available. Null when MemTotal is missing. */
export function parseMeminfo(text: string): RamSpecs | null {
  const kib = (field: string): number | undefined => {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s*kB\\s*$`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const total = kib('MemTotal');
  if (total === undefined) return null;
  const free = kib('MemFree') ?? 0;
  // Kernels before 3.14 have no MemAvailable: free + page cache is the usual estimate.
  const available = Math.min(total, kib('MemAvailable') ?? free + (kib('Cached') ?? 0) + (kib('Buffers') ?? 0));
  return { total, available, used: total - available, free };
}

/** The first value of a /proc/cpuinfo field (e.g. vendor_id, model name, cpu MHz), or undefined. */
export function cpuinfoField(text: string, field: string): string | undefined {
  const escaped = field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${escaped}\\s*:\\s*(.*?)\\s*$`, 'm').exec(text);
  return match?.[1] || undefined;
}
