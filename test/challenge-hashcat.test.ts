// test-lane: alone (see scripts/run-tests.mjs)
// hashcat runs where it is installed; in CI (CI=true) a missing hashcat fails these tests.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HashcatSolver } from '../src/challenge/hashcat.js';
import { ChallengeService } from '../src/challenge/service.js';
import { CHARSETS, vectors } from './helpers/challenge.js';

const test = suite('hashcat solver');
const run = promisify(execFile);
let stateDir = '';
let solver: HashcatSolver | null = null;
const never = () => new AbortController().signal;

// hashcat processes whose command line names our private folder.
async function ourHashcats(): Promise<number> {
  try {
    const { stdout } = await run('pgrep', ['-f', stateDir]);
    return stdout.trim().split('\n').filter(Boolean).length;
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
}

test.before(async () => {
  // Like Docker, hashcat is a real part of these tests: missing, it fails them (never skips).
  // `npm test` installs it as root.
  await run('hashcat', ['--version'], { timeout: 15_000 }).catch(() => {
    throw new Error('hashcat is not installed (apt-get install hashcat pocl-opencl-icd)');
  });
  stateDir = await mkdtemp(join(tmpdir(), 'challenge-hashcat-test-'));
  solver = new HashcatSolver({ stateDir });
  // The first run compiles the OpenCL kernel (about a minute on CPU).
  await solver.warmUp();
});

test.after(async () => {
  await solver?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** The warmed-up solver of this suite. */
function hashcat(): HashcatSolver {
  if (!solver) throw new Error('the hashcat solver did not start');
  return solver;
}

test('argv: the charset and salt travel as hex, the mask has one ?1 per character, no shell', () => {
  const task = { digest: Buffer.alloc(64, 0xab), salt: Buffer.from('a:b $c'), charset: [...`$'"; `], length: 3 };
  const argv = HashcatSolver.argv(task, 's', '/tmp/out', 3, ['-O']);
  assert.equal(argv.slice(0, 4), ['-m', '610', '-a', '3']);
  assert.ok(argv.includes('--hex-charset') && argv.includes('--hex-salt') && argv.includes('--potfile-disable'));
  assert.is(argv[argv.indexOf('-1') + 1], Buffer.from(`$'"; `).toString('hex'));
  assert.ok(argv.includes(`$BLAKE2$${'ab'.repeat(64)}:${Buffer.from('a:b $c').toString('hex')}`));
  assert.ok(argv.includes('?1?1?1'));
  assert.is(argv.at(-1), '-O');
  assert.is(argv[argv.indexOf('-w') + 1], '3');
});

test('supports only one-byte charsets', () => {
  const s = new HashcatSolver();
  const base = { digest: Buffer.alloc(64), salt: Buffer.from('00'), length: 2 };
  assert.ok(s.supports({ ...base, charset: [...CHARSETS.shell] }));
  assert.not.ok(s.supports({ ...base, charset: [...CHARSETS.multiByte] }));
});

test('finds python-hashed passwords at lengths 1–6, with shell-special characters and salts', async () => {
  const hc = hashcat();
  const cases = [
    ...[1, 2, 3, 4, 5, 6].map((length) => ({ charset: CHARSETS.letters, length })),
    { charset: CHARSETS.shell, length: 4 },
    { charset: CHARSETS.shell, length: 2, salt: 'salt:with $pace & "quotes"' },
    { charset: CHARSETS.reference, length: 5 },
  ];
  for (const v of await vectors(cases)) {
    const outcome = await hc.solve(v.task, never());
    assert.is(outcome.status, 'found', `${JSON.stringify(v.password)} exit ${outcome.exitCode}`);
    assert.is(outcome.password, v.password);
    assert.is(outcome.exitCode, 0);
  }
  assert.is(await ourHashcats(), 0);
});

test('reports exhausted (exit 1) when no password of the length matches', async () => {
  const hc = hashcat();
  const [v] = await vectors([{ charset: CHARSETS.letters, length: 4 }]);
  const outcome = await hc.solve({ ...v!.task, length: 3 }, never());
  assert.is(outcome.status, 'exhausted');
  assert.is(outcome.exitCode, 1);
  assert.is(outcome.password, null);
});

test('the deadline kills hashcat: no process is left behind and the outfile is gone', async () => {
  const hc = hashcat();
  const [v] = await vectors([{ charset: 'abcdefghij', length: 12 }]);
  const started = performance.now();
  const pending = hc.solve({ ...v!.task, charset: [...'0123456789'] }, AbortSignal.timeout(2500));
  await new Promise((r) => setTimeout(r, 1500));
  assert.is(hc.liveProcesses(), 1);
  assert.ok((await ourHashcats()) >= 1, 'hashcat runs during the solve');
  const outcome = await pending;
  assert.is(outcome.status, 'aborted');
  assert.ok(performance.now() - started < 5000);
  assert.is(hc.liveProcesses(), 0);
  assert.is(await ourHashcats(), 0);
  assert.equal(await readdir(join(stateDir, 'runs')), []);
});

test('cancellation right after the start leaves no process either', async () => {
  const hc = hashcat();
  const [v] = await vectors([{ charset: 'abcdefghij', length: 12 }]);
  const controller = new AbortController();
  const pending = hc.solve({ ...v!.task, charset: [...'0123456789'] }, controller.signal);
  setTimeout(() => controller.abort(), 50);
  assert.is((await pending).status, 'aborted');
  assert.is(await ourHashcats(), 0);
});

test('a missing binary fails the probe', async () => {
  const missing = new HashcatSolver({ path: join(tmpdir(), 'no-such-hashcat') });
  try {
    await missing.probe();
    assert.unreachable('probe must fail');
  } catch (err) {
    assert.match((err as Error).message, /ENOENT/);
  }
  await missing.close();
});

test('the service warms hashcat up, reports it, sends large challenges to it and small ones to the pool', async () => {
  const hc = hashcat();
  const service = new ChallengeService({ solver: 'auto', threads: 2, builtinUpTo: 1000, hashcat: { stateDir } });
  try {
    const info = await service.ready();
    assert.is(info.solver, 'hashcat');
    assert.is(info.hashcat.state, 'ready');
    assert.match(info.hashcat.version ?? '', /\d/);
    const [big, small, wide] = await vectors([
      { charset: CHARSETS.shell, length: 4 },
      { charset: CHARSETS.letters, length: 3 },
      { charset: CHARSETS.multiByte, length: 3 },
    ]);
    // local_execution_time alone does not say which solver ran; hashcat's start-up does: ≥ 0.5 s.
    const a = await service.submit(big!.task);
    assert.is(a.password, big!.password);
    assert.ok(a.local_execution_time > 0.5, `hashcat took ${a.local_execution_time} s`);
    const b = await service.submit(small!.task);
    assert.is(b.password, small!.password);
    assert.ok(b.local_execution_time < 0.5, `pool took ${b.local_execution_time} s`);
    const c = await service.submit(wide!.task);
    assert.is(c.password, wide!.password);
  } finally {
    await service.close();
  }
  assert.is(await ourHashcats(), 0);
});

test('a hashcat that cannot run leaves the service on the built-in solver', async () => {
  const service = new ChallengeService({ solver: 'auto', threads: 1, hashcat: { path: join(tmpdir(), 'no-such-hashcat') } });
  try {
    const info = await service.ready();
    assert.is(info.solver, 'built-in');
    assert.is(info.hashcat.state, 'failed');
    assert.match(info.hashcat.error ?? '', /ENOENT/);
    const [v] = await vectors([{ charset: CHARSETS.letters, length: 3 }]);
    assert.is((await service.submit(v!.task)).password, v!.password);
  } finally {
    await service.close();
  }
});

test.run();
