#!/usr/bin/env node
// Runs every compiled uvu suite, each file in its own process with a time limit, and closes with
// one "N passed, N failed" line and the slowest files. A file that hangs (a stuck engine, a
// teardown that never returns) fails alone instead of holding the whole run until CI gives up.
//
// Most files wait on Docker, SSH and timers far more than they compute, so files run two at a
// time; a file whose first lines say `// test-lane: alone` (it freezes a shared daemon, rewrites
// the shared firewall, loads both cores, or times itself) runs with nothing beside it. Each
// file's output is printed whole when it ends.
//
// An optional argument narrows the run to test files whose name matches it.
// COMPUTE_MINER_TEST_JOBS: files at a time (default 2); COMPUTE_MINER_TEST_FILE_LIMIT_S: the
// limit per file (default 900 s).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function positive(name, fallback) {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`${name} must be a positive whole number, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}
const limitS = positive('COMPUTE_MINER_TEST_FILE_LIMIT_S', 900);
const jobs = positive('COMPUTE_MINER_TEST_JOBS', 2);
const LINGER_S = 20;
const narrow = process.argv[2] ? new RegExp(process.argv[2]) : null;
const uvu = join(root, 'node_modules', 'uvu', 'bin.js');
const testDir = join(root, 'dist', 'test');
const files = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.js') && (!narrow || narrow.test(f)))
  .sort()
  .map((name) => ({ name, alone: /^\/\/ test-lane: alone\b/m.test(readFileSync(join(testDir, name), 'utf8').slice(0, 4000)) }));
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const running = new Set();

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    // Its own process group, so a timeout also ends what the file started (miners, daemons).
    const child = spawn(process.execPath, [uvu, join('dist', 'test'), `^${escape(file)}$`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.add(child);
    let out = '';
    let timedOut = false;
    let lingering;
    const end = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ } };
    child.stderr.on('data', (chunk) => { out += chunk; });
    child.stdout.on('data', (chunk) => {
      out += chunk;
      // uvu has printed its totals: a process still alive after that holds a handle nobody
      // closed; it is ended after a grace period and named, and its results stand.
      if (!lingering && /Duration:/.test(out)) {
        lingering = setTimeout(() => { out += `\n${file}: finished but did not exit within ${LINGER_S} s (an open handle): ended\n`; end(); }, LINGER_S * 1000);
      }
    });
    const timer = setTimeout(() => { timedOut = true; out += `\n${file}: still running after ${limitS} s: stopped, counted as failed\n`; end(); }, limitS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(lingering);
      running.delete(child);
      // Ended only for lingering: uvu's own counts say what passed.
      if (signal === 'SIGKILL' && !timedOut && /Duration:/.test(out)) code = 0;
      const count = (label) => Number((out.match(new RegExp(`${label}:\\s+(\\d+)`)) ?? [])[1] ?? 0);
      const total = count('Total');
      const passed = count('Passed');
      const skipped = count('Skipped');
      const failed = Math.max(total - passed - skipped, code === 0 && !timedOut ? 0 : 1);
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(`${out}${file}: ${seconds.toFixed(1)} s\n`);
      resolve({ file, passed, failed, skipped, seconds });
    });
  });
}

const stop = () => {
  for (const child of running) try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
  process.stdout.write('\ninterrupted\n');
  process.exit(130);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const wallStart = Date.now();
const results = [];
// The files that need the machine alone first, one by one; then the rest, `jobs` at a time.
for (const f of files.filter((f) => f.alone)) results.push(await runFile(f.name));
const shared = files.filter((f) => !f.alone).map((f) => f.name);
await Promise.all(Array.from({ length: Math.min(jobs, shared.length) }, async () => {
  for (let next = shared.shift(); next !== undefined; next = shared.shift()) results.push(await runFile(next));
}));

const sum = (k) => results.reduce((n, r) => n + r[k], 0);
const slowest = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 10);
process.stdout.write(`\nslowest files: ${slowest.map((r) => `${r.file.replace('.test.js', '')} ${r.seconds.toFixed(0)} s`).join(', ')}\n`);
const failedFiles = results.filter((r) => r.failed > 0).map((r) => r.file).sort();
if (failedFiles.length) process.stdout.write(`failed in: ${failedFiles.join(', ')}\n`);
const skipped = sum('skipped');
process.stdout.write(`\n${sum('passed')} passed, ${sum('failed')} failed${skipped ? `, ${skipped} skipped` : ''} (${files.length} files, ${((Date.now() - wallStart) / 1000).toFixed(0)} s)\n`);
process.exit(failedFiles.length ? 1 : 0);
