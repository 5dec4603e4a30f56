// Docker's cpuset notation ("0-3,6", HostConfig.CpusetCpus) to and from core numbers. Pure.

/** The most cores a cpuset may name: beyond any machine, refused as absurd. */
export const MAX_CPUSET_CORE = 65535;

/** Core numbers of a cpuset, ascending and unique; null when the text is not a cpuset. */
export function parseCpuset(text: string): number[] | null {
  const cores = new Set<number>();
  if (text.trim() === '') return null;
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(part);
    if (!match) return null;
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from || to > MAX_CPUSET_CORE) return null;
    for (let core = from; core <= to; core++) cores.add(core);
  }
  return [...cores].sort((a, b) => a - b);
}

/** The shortest cpuset for these cores: ascending runs joined by commas ("0-3,6"). */
export function formatCpuset(cores: readonly number[]): string {
  const sorted = [...new Set(cores)].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return ranges.join(',');
}
