// Challenge: hash rate of each solver, and solve times over the same random challenges at
// difficulty 7 and 8 for the built-in pool, the hashcat path end to end (a signed request
// through axon and dendrite to a verified reply) and the bare hashcat command line.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { challengeTask, generateHotkey, type ChallengeRequest, type ChallengeTask } from '../protocol/index.js';
import { createAxon } from '../src/axon/server.js';
import { BuiltinSolver } from '../src/challenge/builtin.js';
import { HashcatSolver } from '../src/challenge/hashcat.js';
import { challengePlugin } from '../src/handlers/challenge.js';
import { silentLogger } from '../src/log.js';
import { generateChallenge, verifyAnswer } from '../src/validator/challenge.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { registerBench } from './registry.js';
import { percentile, writeSection } from './results.js';

const ROUNDS = 5;
const DIFFICULTIES = [7, 8];

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return `${mean.toFixed(2)} / ${percentile(sorted, 50).toFixed(2)} / ${sorted.at(-1)!.toFixed(2)}`;
}

/** A task whose answer is outside its keyspace: solving it walks the whole keyspace. */
function exhaustive(length: number): ChallengeTask {
  const salt = Buffer.from(randomBytes(8).toString('hex'));
  return { digest: createHash('blake2b512').update('z'.repeat(length)).update(salt).digest(), salt, charset: [...'0123456789'], length };
}

function hashcatEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, HOME: dir, XDG_CACHE_HOME: join(dir, 'cache'), XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config'), POCL_CACHE_DIR: join(dir, 'pocl') };
}

// The bare command line a person would type, in the same folder (so the same compiled kernels).
function bareHashcat(dir: string, request: ChallengeRequest, n: number): Promise<{ seconds: number; password: string | null }> {
  const outfile = join(dir, 'runs', `bare-${n}.out`);
  const argv = [
    '-m', '610', '-a', '3', '-1', request.challenge_chars,
    `${request.challenge_hash}:${request.challenge_salt}`, request.challenge_mask,
    '--potfile-disable', '--quiet', '-o', outfile, '--outfile-format', '2', '--session', `bare-${n}`, '-w', '3',
  ];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile('hashcat', argv, { cwd: dir, env: hashcatEnv(dir) }, async (err) => {
      const elapsed = seconds(started);
      if (err && err.code !== 1) return reject(err);
      const { readFile } = await import('node:fs/promises');
      const password = (await readFile(outfile, 'utf8').catch(() => '')).split('\n')[0] || null;
      await rm(outfile, { force: true });
      resolve({ seconds: elapsed, password });
    });
  });
}

registerBench('challenge', async () => {
  const cores = availableParallelism();
  const startLoad = loadavg()[0]!;
  const lines: string[] = [];
  const log = (s: string) => { process.stdout.write(`${s}\n`); };

  // Built-in hash rate: the whole 10^7 keyspace of difficulty 7.
  const pool = new BuiltinSolver();
  const rate = await pool.solve(exhaustive(7), new AbortController().signal);
  const builtinRate = rate.hashes / rate.seconds;
  log(`built-in: ${(builtinRate / 1e6).toFixed(2)} MH/s on ${pool.threads} threads`);

  const dir = await mkdtemp(join(tmpdir(), 'challenge-bench-'));
  for (const sub of ['cache', 'data', 'config', 'pocl', 'runs']) await mkdir(join(dir, sub), { recursive: true });
  const hashcat = new HashcatSolver({ stateDir: dir });
  let hashcatReady = false;
  let hashcatRate = NaN;
  let hashcatStartup = NaN;
  try {
    await hashcat.probe();
    const warm = await hashcat.warmUp();
    log(`hashcat ${hashcat.version}: warm-up ${warm.toFixed(1)} s`);
    hashcatReady = true;
    // Start-up cost: a 10-candidate keyspace. Rate: the 10^8 keyspace of difficulty 8, minus start-up.
    hashcatStartup = (await hashcat.solve(exhaustive(1), new AbortController().signal)).seconds;
    const full = await hashcat.solve(exhaustive(8), new AbortController().signal);
    hashcatRate = 1e8 / Math.max(0.001, full.seconds - hashcatStartup);
    log(`hashcat: start-up ${hashcatStartup.toFixed(2)} s, ${(hashcatRate / 1e6).toFixed(1)} MH/s (10^8 keyspace in ${full.seconds.toFixed(2)} s)`);
  } catch (err) {
    log(`hashcat unavailable: ${(err as Error).message}`);
  }

  // Other work on the machine lowers every figure; the load says how much there was.
  lines.push(`Load average (1 min) at start: ${startLoad.toFixed(2)}; at end: ${loadavg()[0]!.toFixed(2)}.`, '');
  lines.push('### Hash rate', '', '| solver | rate | how |', '|---|---|---|');
  lines.push(`| built-in (${pool.threads} threads, WebAssembly BLAKE2b) | ${(builtinRate / 1e6).toFixed(2)} MH/s | full 10^7 keyspace (difficulty 7) in ${rate.seconds.toFixed(2)} s |`);
  lines.push(`| node createHash('blake2b512'), 1 thread | ${(createHashRate() / 1e6).toFixed(2)} MH/s | 200,000 hashes of 24 bytes |`);
  if (hashcatReady) lines.push(`| hashcat -w 3 | ${(hashcatRate / 1e6).toFixed(1)} MH/s | full 10^8 keyspace minus a ${hashcatStartup.toFixed(2)} s start-up |`);
  lines.push('');

  // End to end: a miner axon with the Challenge plugin on hashcat, and a validator dendrite.
  const plugin = challengePlugin({ solver: 'hashcat', hashcat: { stateDir: dir }, threads: cores, log: silentLogger() });
  await plugin.service.ready();
  const minerKey = generateHotkey();
  const axon = createAxon({
    hotkey: minerKey, host: '127.0.0.1', port: 0, plugins: [plugin],
    access: { allowAny: true, allow: new Map(), deny: new Set(), minStake: 0 }, log: silentLogger(),
  });
  const { port } = await axon.listen();
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: `ws://127.0.0.1:${port}`, axonHotkey: minerKey.ss58Address, timeoutMs: 60_000 });

  lines.push(`### Solve time over the same ${ROUNDS} random challenges per difficulty (10-character charsets)`, '');
  lines.push('Seconds, mean / median / max; every answer verified.', '');
  lines.push('| difficulty | built-in pool | hashcat path end to end (axon + dendrite) | bare hashcat command | end to end ÷ bare (mean) |', '|---|---|---|---|---|');
  let n = 0;
  try {
    for (const difficulty of DIFFICULTIES) {
      const times = { builtin: [] as number[], e2e: [] as number[], bare: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        const { request, password } = generateChallenge(difficulty);
        const task = challengeTask(request) as ChallengeTask;
        const b = await pool.solve(task, AbortSignal.timeout(120_000));
        if (b.password !== password) throw new Error(`built-in missed ${difficulty}/${round}`);
        times.builtin.push(b.seconds);
        if (hashcatReady) {
          const started = performance.now();
          const reply = await dendrite.call('Challenge', { ...request }, { timeoutSeconds: 60 });
          const answer = (reply.body as { output?: { password?: unknown } } | undefined)?.output?.password;
          if (reply.code !== 200 || !verifyAnswer(request, answer)) throw new Error(`end to end failed: ${reply.code} ${reply.message}`);
          times.e2e.push(seconds(started));
          const bare = await bareHashcat(dir, request, ++n);
          if (bare.password !== password) throw new Error(`bare hashcat missed ${difficulty}/${round}`);
          times.bare.push(bare.seconds);
        }
        log(`difficulty ${difficulty} round ${round + 1}: built-in ${b.seconds.toFixed(2)} s` +
          (hashcatReady ? `, end to end ${times.e2e.at(-1)!.toFixed(2)} s, bare ${times.bare.at(-1)!.toFixed(2)} s` : ''));
      }
      const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
      const ratio = hashcatReady ? (mean(times.e2e) / mean(times.bare)).toFixed(2) : 'n/a';
      lines.push(`| ${difficulty} | ${stats(times.builtin)} | ${hashcatReady ? stats(times.e2e) : 'n/a'} | ${hashcatReady ? stats(times.bare) : 'n/a'} | ${ratio} |`);
    }
  } finally {
    await dendrite.close();
    await axon.close();
    await plugin.close();
    await pool.close();
    await hashcat.close();
    await rm(dir, { recursive: true, force: true });
  }
  lines.push('', `Targets: built-in ≥ 1.5 MH/s on 2 cores; end to end within 1.3× of bare hashcat at difficulty 8. Command: \`npm run bench -- challenge\`.`);
  writeSection('challenge', lines.join('\n'));
});

function createHashRate(): number {
  const message = Buffer.from('abcdefgh0123456789abcdef');
  const count = 200_000;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    message[0] = i & 0xff;
    createHash('blake2b512').update(message).digest();
  }
  return count / seconds(started);
}
