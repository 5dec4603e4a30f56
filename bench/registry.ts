// Benchmarks register here by name; bench/run.ts runs them.
export const BENCHES: Record<string, () => Promise<unknown>> = {};

export function registerBench(name: string, run: () => Promise<unknown>): void {
  BENCHES[name] = run;
}
