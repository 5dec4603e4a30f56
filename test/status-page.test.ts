// The status page and what an operator and a renter read: a real miner process rents a
// container through the CLI; headless Chromium renders `/` (its screenshot is kept under
// test-artifacts/) and its DOM shows that rental with the holder's fingerprint, cores, memory
// and port, and no secret; /health says the deadline as an ISO time and a paused container as
// paused; `status` and `validator rentals` show the same rental on the terminal.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { CLI, cleanupCliMiners, healthy, spawnCliMiner, type CliMiner } from './helpers/cli-miner.js';
import { requireDocker, testRun, type TestRun } from './helpers/docker.js';
import { sshKeyPair } from './helpers/ssh-keys.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
/** Longest a headless Chromium run may take. */
const CHROMIUM_TIMEOUT_MS = 90_000;

interface Ctx {
  docker: Dockerode;
  run: TestRun;
  miners: CliMiner[];
  miner: CliMiner;
  dir: string;
  env: NodeJS.ProcessEnv;
  keyFile: string;
  rental: { port: number; password: string };
}
const page = suite<Ctx>('status page');

function exec(file: string, args: string[], env: NodeJS.ProcessEnv, timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
const cli = (ctx: Ctx, args: string[]) => exec(process.execPath, [CLI, ...args], ctx.env);

function chromium(ctx: Ctx, extra: string[], url: string) {
  const profile = mkdtempSync(join(ctx.dir, 'chromium-'));
  return exec('chromium', [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--window-size=1100,900', ...extra, url,
  ], { ...process.env, HOME: ctx.dir }, CHROMIUM_TIMEOUT_MS);
}

page.before(async (ctx) => {
  ctx.docker = await requireDocker();
  ctx.run = testRun(ctx.docker, 'status');
  ctx.miners = [];
  ctx.dir = mkdtempSync(join(tmpdir(), 'status-page-'));
  ctx.env = { ...process.env, HOME: ctx.dir, COMPUTE_MINER_HOME: join(ctx.dir, '.compute-miner') };
  ctx.miner = await spawnCliMiner(ctx.run, 's');
  ctx.miners.push(ctx.miner);
  // The warm container may take a while on a busy engine; the rental below is served from it.
  await healthy(ctx.miner, (h) => h.allocation?.standby === true, 180_000);
  const pub = join(ctx.dir, 'user.pub');
  writeFileSync(pub, `${sshKeyPair('user').public}\n`);
  ctx.keyFile = join(ctx.dir, 'rental.pem');
  const r = await cli(ctx, ['validator', 'allocate', `ws://127.0.0.1:${ctx.miner.port}`, '--cpu', '1', '--ram', '256m', '--disk', '1g', '--days', '0.5', '--ssh-key', pub, '--key-out', ctx.keyFile, '--json']);
  assert.is(r.code, 0, r.stderr);
  ctx.rental = JSON.parse(r.stdout);
});

page.after(async (ctx) => {
  if (ctx.keyFile) await cli(ctx, ['validator', 'release', `ws://127.0.0.1:${ctx.miner.port}`, '--key', ctx.keyFile]).catch(() => undefined);
  await cleanupCliMiners(ctx.docker, ctx.miners ?? []);
  await ctx.run?.cleanup();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

/** What the status page must call the holder: SHA256 of the public key's DER. */
function fingerprint(keyFile: string): string {
  const der = createPublicKey(createPrivateKey(readFileSync(keyFile, 'utf8'))).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

page('headless Chromium renders the rental on / ; the screenshot is kept; nothing secret, nothing fetched', async (ctx) => {
  const url = `http://127.0.0.1:${ctx.miner.port}/`;
  const head = await fetch(url);
  assert.is(head.status, 200);
  assert.match(head.headers.get('content-security-policy') ?? '', /default-src 'none'/);

  const dom = await chromium(ctx, ['--dump-dom'], url);
  assert.is(dom.code, 0, dom.stderr.slice(-2000));
  const html = dom.stdout;
  const row = /<tr class="rental">(.*?)<\/tr>/s.exec(html)?.[1];
  assert.ok(row, `a rental row in the rendered DOM: ${html.slice(0, 500)}`);
  const text = (m: RegExpMatchArray) => m[1]!.replace(/<[^>]+>/g, '').trim();
  // Cells by their column's heading (whether a one-host miner shows a host column is status-units' question).
  const heading = /<table id="rentals"><thead><tr>(.*?)<\/tr>/s.exec(html)?.[1] ?? '';
  const names = [...heading.matchAll(/<th[^>]*>(.*?)<\/th>/gs)].map(text);
  const values = [...row!.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map(text);
  assert.is(values.length, names.length, `one cell per column: ${names.join(', ')}`);
  const cell = (name: string) => {
    assert.ok(names.includes(name), `a "${name}" column: ${names.join(', ')}`);
    return values[names.indexOf(name)]!;
  };
  if (names.includes('host')) assert.is(cell('host'), 'local');
  assert.is(cell('role'), 'rental');
  assert.is(cell('state'), 'running');
  assert.is(cell('holder key'), fingerprint(ctx.keyFile));
  assert.match(cell('cores'), /^1 \(\d+\)$/);
  assert.is(cell('memory'), '256 MiB');
  assert.is(cell('disk'), '1 GiB');
  assert.is(cell('GPUs'), '0');
  assert.is(Number(cell('SSH port')), ctx.rental.port);
  assert.match(cell('time left'), /^(11|12) h/);
  assert.match(html, /<svg[^>]*aria-label="requests and latency"/);
  assert.not.match(html, /<script/i);
  assert.not.match(html, /(src|href)="(https?:)?\/\//i, 'nothing from another origin');
  assert.not.ok(html.includes(ctx.rental.password), 'no password');
  assert.not.match(html, /BEGIN (PUBLIC|PRIVATE|RSA)/, 'no PEM');

  mkdirSync(ARTIFACTS, { recursive: true });
  const png = join(ARTIFACTS, 'status-page.png');
  rmSync(png, { force: true });
  const shot = await chromium(ctx, [`--screenshot=${png}`], url);
  assert.is(shot.code, 0, shot.stderr.slice(-2000));
  assert.ok(statSync(png).size > 10_000, 'a screenshot of a rendered page');
  assert.equal([...readFileSync(png).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
});

page('/health: the deadline as an ISO time, a paused container as paused; status shows it too', async (ctx) => {
  const health = async () => (await (await fetch(`http://127.0.0.1:${ctx.miner.port}/health`)).json()) as any;
  const running = await health();
  assert.match(running.allocation.deadline, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.is(running.allocation.container, 'running');
  const paused = await cli(ctx, ['validator', 'pause', `ws://127.0.0.1:${ctx.miner.port}`, '--key', ctx.keyFile]);
  assert.is(paused.code, 0, paused.stderr);
  await new Promise((r) => setTimeout(r, 1100)); // /health reads Docker at most once a second
  assert.is((await health()).allocation.container, 'paused');
  const status = await cli(ctx, ['status', `http://127.0.0.1:${ctx.miner.port}`]);
  assert.is(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`rental  paused  holder ${fingerprint(ctx.keyFile).replace(/[+/]/g, '\\$&')}  1 core \\(\\d+\\)  256 MiB  1 GiB disk  GPUs 0  port ${ctx.rental.port}  1[12] h \\d+ min left`));
  assert.match(status.stdout, /^standby {5}none$/m);
  const resumed = await cli(ctx, ['validator', 'resume', `ws://127.0.0.1:${ctx.miner.port}`, '--key', ctx.keyFile]);
  assert.is(resumed.code, 0, resumed.stderr);
});

page('validator rentals: the rental with its pinned ssh line, its host key fingerprint, and the time left', async (ctx) => {
  const text = await cli(ctx, ['validator', 'rentals']);
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`1 CPU, 256 MiB RAM, 1 GiB disk  1[12] h \\d+ min left`));
  // The key given with --ssh-key logs in (-i: its private half when beside it, else the file given).
  const identity = join(ctx.dir, 'user.pub').replace(/[.+]/g, '\\$&');
  assert.match(text.stdout, new RegExp(`^  ssh -o UserKnownHostsFile=\\S+\\.known_hosts -o StrictHostKeyChecking=yes -i ${identity} -p ${ctx.rental.port} root@127\\.0\\.0\\.1$`, 'm'), text.stdout);
  assert.match(text.stdout, /host key: (ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) SHA256:[A-Za-z0-9+/]{43}/);
  const doc = JSON.parse((await cli(ctx, ['validator', 'rentals', '--json'])).stdout);
  assert.is(doc.rentals.length, 1);
  assert.is(doc.rentals[0].keyFile, ctx.keyFile);
  assert.ok(doc.rentals[0].secondsLeft > 11 * 3600);
  assert.not.ok(JSON.stringify(doc).includes(ctx.rental.password), 'the record keeps no password');
  const released = await cli(ctx, ['validator', 'release', `ws://127.0.0.1:${ctx.miner.port}`, '--key', ctx.keyFile]);
  assert.is(released.code, 0, released.stderr);
  assert.equal(JSON.parse((await cli(ctx, ['validator', 'rentals', '--json'])).stdout), { rentals: [] }, 'a released rental is forgotten');
});

page.run();
