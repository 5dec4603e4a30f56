// `npm run bench -- [name...]`: runs the named benchmarks (all when none is named).
import { BENCHES } from './registry.js';

const wanted = process.argv.slice(2);
// Each bench module calls registerBench (bench/registry.ts) when imported.
const modules = ['./axon.js', './allocate.js', './challenge.js'];
for (const m of modules) {
  try {
    await import(m);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
}
for (const name of wanted.length ? wanted : Object.keys(BENCHES)) {
  const run = BENCHES[name];
  if (!run) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`\n== bench ${name} ==\n`);
  await run();
}
