// Logging never blocks or stops the miner: a log destination that goes away (a pipe whose
// reader exits, a full disk) drops lines and counts them, and the real CLI miner keeps serving
// and stops on SIGTERM as usual. The miner here is given a Docker socket that does not exist:
// what is tested is its logging, and no container is made.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateHotkey } from '../protocol/index.js';
import { droppedLogLines, fdDestination } from '../src/log-destination.js';
import { CLI } from './helpers/cli-miner.js';
import { freePorts } from './helpers/docker.js';

const line = (i: number) => `{"level":30,"msg":"line ${i}"}\n`;
const waitFor = async (cond: () => boolean, what: string, ms = 5000) => {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) throw new Error(`timed out: ${what}`);
};

test('a full disk (/dev/full): every line is dropped and counted, nothing throws, the exit flush is bounded', async () => {
  const fd = openSync('/dev/full', 'a');
  try {
    const before = droppedLogLines();
    const dest = fdDestination(fd);
    for (let i = 0; i < 10; i++) dest.write(line(i));
    await waitFor(() => dest.dropped() === 10, 'ten dropped lines');
    assert.is(droppedLogLines() - before, 10);
    assert.is(dest.gone(), false, 'a full disk may free up');
    const started = Date.now();
    dest.write(line(10));
    dest.flushSync();
    assert.ok(Date.now() - started < 1000);
  } finally {
    closeSync(fd);
  }
});

test('a pipe whose reader exits: the destination is gone, later lines are dropped at once', async () => {
  const reader = spawn('head', ['-n', '2'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const fd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
  const dest = fdDestination(fd);
  try {
    for (let i = 0; i < 2; i++) dest.write(line(i));
    await new Promise((r) => reader.once('exit', r));
    for (let i = 2; i < 50 && !dest.gone(); i++) {
      dest.write(line(i));
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(dest.gone(), 'EPIPE: gone');
    const dropped = dest.dropped();
    assert.ok(dropped >= 1);
    dest.write(line(99));
    assert.is(dest.dropped(), dropped + 1);
    dest.flushSync();
  } finally {
    reader.stdin!.destroy();
  }
});

interface Run { child: ChildProcess; port: number; exited: Promise<number | null> }

async function startMiner(dir: string, name: string, stdio: ('ignore' | number | NodeJS.WritableStream)[], extra: string[]): Promise<Run> {
  const [port, sshPort] = await freePorts(2);
  const validators = join(dir, `${name}-validators.txt`);
  writeFileSync(validators, `${generateHotkey().ss58Address}\n`);
  const child = spawn(process.execPath, [
    CLI, 'miner', '--data-dir', join(dir, name), '--host', '127.0.0.1', '--port', String(port), '--ssh-port', String(sshPort),
    '--ssh-bind', '127.0.0.1', '--name-prefix', `t-log-${name}-`, '--log-format', 'json', '--validators', validators,
    '--docker-socket', join(dir, 'no-docker.sock'), ...extra,
  ], { stdio: stdio as never });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, port: port!, exited };
}

const health = (port: number) => fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) }).then((r) => r.status, () => 0);
const dropped = async (port: number) => {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) }).then((r) => r.text());
  return Number(/^miner_log_lines_dropped_total (\d+)/m.exec(text)?.[1] ?? NaN);
};

async function servesThenStops(run: Run): Promise<void> {
  for (const end = Date.now() + 30_000; (await health(run.port)) !== 200;) {
    if (Date.now() > end || run.child.exitCode !== null) throw new Error(`the miner does not answer /health (exit ${run.child.exitCode})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // SIGHUP re-reads the validators file, and says so in the log: a line into the dead destination.
  run.child.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 300));
  assert.is(await health(run.port), 200, '/health answers after the log destination went away');
  assert.ok((await dropped(run.port)) >= 1, 'dropped lines are counted in /metrics');
  const started = Date.now();
  run.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([run.exited, new Promise<'late'>((r) => { timer = setTimeout(r, 20_000, 'late'); })]);
  clearTimeout(timer);
  assert.is(code, 0, 'SIGTERM stops the miner within 20 s');
  assert.ok(Date.now() - started < 20_000);
}

test('the CLI miner with its standard output and error into `| head -5`: it keeps serving, and SIGTERM stops it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-log-'));
  const reader = spawn('head', ['-n', '5'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let run: Run | undefined;
  try {
    let read = '';
    reader.stdout!.on('data', (c) => (read += c));
    const readerExited = new Promise((r) => reader.once('exit', r));
    run = await startMiner(dir, 'pipe', ['ignore', reader.stdin!, reader.stdin!], []);
    reader.stdin!.destroy(); // the miner holds the only write end
    await readerExited;
    assert.is(read.trim().split('\n').length, 5, 'the reader read five lines and left');
    await servesThenStops(run);
  } finally {
    if (run && run.child.exitCode === null) { run.child.kill('SIGKILL'); await run.exited; }
    reader.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI miner with its standard error into a pipe nobody reads: it keeps serving, and SIGTERM stops it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-log-'));
  const reader = spawn('sleep', ['600'], { stdio: ['pipe', 'ignore', 'ignore'] });
  let run: Run | undefined;
  try {
    run = await startMiner(dir, 'stall', ['ignore', 'ignore', reader.stdin!], []);
    reader.stdin!.destroy();
    for (const end = Date.now() + 30_000; (await health(run.port)) !== 200;) {
      if (Date.now() > end || run.child.exitCode !== null) throw new Error('the miner does not answer /health');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Each SIGHUP logs a line: more than the pipe's 64 KiB, which nobody reads.
    for (let i = 0; i < 600; i++) { run.child.kill('SIGHUP'); await new Promise((r) => setTimeout(r, 2)); }
    assert.is(await health(run.port), 200);
    const started = Date.now();
    run.child.kill('SIGTERM');
    assert.is(await run.exited, 0);
    assert.ok(Date.now() - started < 20_000, `stopped in ${Date.now() - started} ms`);
  } finally {
    if (run && run.child.exitCode === null) { run.child.kill('SIGKILL'); await run.exited; }
    reader.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI miner with --log-file on a full disk (/dev/full): it keeps serving, and SIGTERM stops it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-log-'));
  let run: Run | undefined;
  try {
    run = await startMiner(dir, 'full', ['ignore', 'ignore', 'ignore'], ['--log-file', '/dev/full']);
    await servesThenStops(run);
  } finally {
    if (run && run.child.exitCode === null) { run.child.kill('SIGKILL'); await run.exited; }
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
