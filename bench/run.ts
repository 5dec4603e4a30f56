// `npm run bench -- [name...]`: runs the named benchmarks (all when none is named).
import { BENCHES } from './registry.js';

const wanted = process.argv.slice(2);
// Each bench module calls registerBench (bench/registry.ts) when imported.
const modules = ['./axon.js', './axon-flood.js', './allocate.js', './allocate-crowd.js', './challenge.js', './placement.js', './validator-check.js', './base-image.js', './rentals.js', './noisy-neighbour.js'];
// A module that fails to load is an error, never a benchmark silently left out.
for (const m of modules) await import(m);
for (const name of wanted.length ? wanted : Object.keys(BENCHES)) {
  const run = BENCHES[name];
  if (!run) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`\n== bench ${name} ==\n`);
  await run();
}
