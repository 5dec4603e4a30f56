#!/usr/bin/env node
// Runs every compiled uvu suite, each file in its own process with a time limit, and closes with
// one "N passed, N failed" line and the slowest files. A file that hangs (a stuck engine, a
// teardown that never returns) fails alone instead of holding the whole run until CI gives up.
// An optional argument narrows the run to test files whose name matches it;
// COMPUTE_MINER_TEST_FILE_LIMIT_S sets the limit per file (default 900 s).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const limitS = Number(process.env.COMPUTE_MINER_TEST_FILE_LIMIT_S ?? 900);
if (!Number.isFinite(limitS) || limitS <= 0) {
  process.stderr.write(`COMPUTE_MINER_TEST_FILE_LIMIT_S must be a positive number of seconds, got ${JSON.stringify(process.env.COMPUTE_MINER_TEST_FILE_LIMIT_S)}\n`);
  process.exit(2);
}
const narrow = process.argv[2] ? new RegExp(process.argv[2]) : null;
const uvu = join(root, 'node_modules', 'uvu', 'bin.js');
const files = readdirSync(join(root, 'dist', 'test'))
  .filter((f) => f.endsWith('.test.js') && (!narrow || narrow.test(f)))
  .sort();
const LINGER_S = 20;
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let current = null;

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    // Its own process group, so a timeout also ends what the file started (miners, daemons).
    const child = spawn(process.execPath, [uvu, join('dist', 'test'), `^${escape(file)}$`], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    current = child;
    let out = '';
    let timedOut = false;
    let lingering;
    child.stdout.on('data', (chunk) => {
      out += chunk;
      process.stdout.write(chunk);
      // uvu has printed its totals: a process still alive after that holds a handle nobody closed;
      // it is ended after a grace period and named, its results stand.
      if (!lingering && /Duration:/.test(out)) {
        lingering = setTimeout(() => {
          process.stdout.write(`\n${file}: finished but did not exit within ${LINGER_S} s (an open handle): ended\n`);
          try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
        }, LINGER_S * 1000);
      }
    });
    const timer = setTimeout(() => {
      timedOut = true;
      process.stdout.write(`\n${file}: still running after ${limitS} s: stopped, counted as failed\n`);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, limitS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(lingering);
      // Ended only for lingering: uvu's own counts say what passed.
      if (signal === 'SIGKILL' && !timedOut && /Duration:/.test(out)) code = 0;
      const count = (label) => Number((out.match(new RegExp(`${label}:\\s+(\\d+)`)) ?? [])[1] ?? 0);
      const total = count('Total');
      const passed = count('Passed');
      const skipped = count('Skipped');
      const failed = Math.max(total - passed - skipped, code === 0 && !timedOut ? 0 : 1);
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(`${file}: ${seconds.toFixed(1)} s\n`);
      resolve({ file, passed, failed, skipped, seconds });
    });
  });
}

const results = [];
const stop = () => {
  if (current?.pid) try { process.kill(-current.pid, 'SIGTERM'); } catch { /* already gone */ }
  process.stdout.write('\ninterrupted\n');
  process.exit(130);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const file of files) results.push(await runFile(file));

const sum = (k) => results.reduce((n, r) => n + r[k], 0);
const slowest = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 10);
process.stdout.write(`\nslowest files: ${slowest.map((r) => `${r.file.replace('.test.js', '')} ${r.seconds.toFixed(0)} s`).join(', ')}\n`);
const failedFiles = results.filter((r) => r.failed > 0).map((r) => r.file);
if (failedFiles.length) process.stdout.write(`failed in: ${failedFiles.join(', ')}\n`);
const skipped = sum('skipped');
process.stdout.write(`\n${sum('passed')} passed, ${sum('failed')} failed${skipped ? `, ${skipped} skipped` : ''} (${files.length} files, ${results.reduce((n, r) => n + r.seconds, 0).toFixed(0)} s)\n`);
process.exit(failedFiles.length ? 1 : 0);
