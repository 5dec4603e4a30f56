// Each benchmark owns one section of bench/RESULTS.md, replaced in place on every run,
// headed by the machine's core count and the date.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/bench/results.js → <root>/bench/RESULTS.md
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'RESULTS.md');
const HEADER = '# Benchmark results\n\nEach section is written by `npm run bench -- <name>` and replaced on every run of that benchmark.\n';

export function machineLine(): string {
  const list = cpus();
  return `${list.length} cores (${list[0]?.model ?? 'unknown CPU'}), Node.js ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

export function writeSection(name: string, markdown: string): void {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n## ${name}\n\nMachine: ${machineLine()}\n\n${markdown.trim()}\n${end}`;
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : HEADER;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  text = from >= 0 && to > from ? text.slice(0, from) + block + text.slice(to + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(RESULTS, text);
}

export { percentile } from '../src/stats.js';
