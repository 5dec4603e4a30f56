#!/usr/bin/env node
// Runs every compiled uvu suite and closes with one "N passed, N failed" line.
// An optional argument narrows the run to test files whose name matches it.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Only compiled test files (never their .map files), narrowed by the optional argument.
const pattern = process.argv[2] ? `^(?=.*(?:${process.argv[2]})).*\\.test\\.js$` : '\\.test\\.js$';
const uvu = join(root, 'node_modules', 'uvu', 'bin.js');
const child = spawn(process.execPath, [uvu, join('dist', 'test'), pattern], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });

let out = '';
child.stdout.on('data', (chunk) => { out += chunk; process.stdout.write(chunk); });
child.on('close', (code, signal) => {
  const count = (label) => Number((out.match(new RegExp(`${label}:\\s+(\\d+)`)) ?? [])[1] ?? 0);
  const total = count('Total');
  const passed = count('Passed');
  const skipped = count('Skipped');
  const failed = Math.max(total - passed - skipped, code === 0 ? 0 : 1);
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(code ?? (signal ? 1 : 0));
});
