// Percentiles of measured times, for the validator's reports and the benchmarks.

/** The p-th percentile (nearest rank) of a list in any order; NaN when it is empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  // Sorted here, not by the caller: an unsorted list once gave a p90 below its p50.
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
