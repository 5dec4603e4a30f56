// Pinned host keys end to end: `validator allocate` against a real miner writes a 0600
// known_hosts file of the signed reply's host_keys and prints an ssh line that uses it. Two
// rentals one after another on the same host:port each log in with their own printed line
// (OpenSSH, strict host key checking) and with the product's ssh2 login pinned to their keys;
// the first rental's pin is refused by the second rental, by OpenSSH and by ssh2 alike.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sshRun } from '../src/validator/ssh-login.js';
import { sshKeyPair } from './helpers/ssh-keys.js';
import { startTestMiner, type TestMiner } from './helpers/miner.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

interface Ctx { miner: TestMiner; dir: string; user: { public: string; private: string }; userFile: string; identity: string }
const pinned = suite<Ctx>('pinned host keys');

pinned.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'known-hosts-'));
  ctx.user = sshKeyPair('user');
  ctx.userFile = join(ctx.dir, 'user.pub');
  writeFileSync(ctx.userFile, `${ctx.user.public}\n`);
  ctx.identity = join(ctx.dir, 'user');
  writeFileSync(ctx.identity, ctx.user.private, { mode: 0o600 });
  ctx.miner = await startTestMiner({ area: 'pin' });
});

pinned.after(async (ctx) => {
  await ctx.miner?.close();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

interface Run { code: number; stdout: string; stderr: string }

function run(file: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd: opts.cwd, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

const cli = (ctx: Ctx, args: string[]) => run(process.execPath, [CLI, 'validator', ...args, '--hotkey', join(ctx.dir, 'validator.json')], { cwd: ctx.dir });

/**
 * The printed ssh line, run as printed (its -i names the renter's key), with only what a
 * non-interactive test needs put in front: no user config, no other keys, no prompts.
 */
function sshAsPrinted(ctx: Ctx, line: string, command: string): Promise<Run> {
  const words = line.split(' ');
  assert.is(words[0], 'ssh');
  assert.not.match(line, /['"]/, 'a plain temporary path needs no quoting');
  return run('ssh', ['-F', '/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15', ...words.slice(1), command]);
}

/** The host key lines of a known_hosts file, without the host field. */
const keysOf = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(1).join(' '));

async function rent(ctx: Ctx, name: string): Promise<{ keyFile: string; knownHosts: string; sshLine: string; password: string }> {
  const keyFile = join(ctx.dir, `${name}.pem`);
  const r = await cli(ctx, ['allocate', ctx.miner.url, '--cpu', '1', '--ram', '256m', '--disk', '1g', '--days', '0.01', '--ssh-key', ctx.userFile, '--key-out', keyFile]);
  assert.is(r.code, 0, r.stderr);
  const knownHosts = join(ctx.dir, `${name}.known_hosts`);
  assert.match(r.stdout, `known hosts: ${knownHosts}`);
  const sshLine = /^ssh .*$/m.exec(r.stdout)?.[0];
  const password = /^password: (\S+)$/m.exec(r.stdout)?.[1];
  assert.ok(sshLine && password, r.stdout);
  assert.is(sshLine, `ssh -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -i ${ctx.identity} -p ${ctx.miner.sshPort} root@127.0.0.1`);
  assert.is(statSync(knownHosts).mode & 0o777, 0o600);
  const text = readFileSync(knownHosts, 'utf8');
  assert.match(text, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${ctx.miner.sshPort} ssh-ed25519 AAAA[A-Za-z0-9+/=]+\\n$`));
  return { keyFile, knownHosts, sshLine: sshLine!, password: password! };
}

pinned('two rentals on the same port: each printed ssh line logs in without a host key warning; the old pin is refused', async (ctx) => {
  const made: string[] = [];
  try {
    const first = await rent(ctx, 'first');
    made.push(first.keyFile);
    const a = await sshAsPrinted(ctx, first.sshLine, 'echo first');
    assert.is(a.code, 0, a.stderr);
    assert.is(a.stdout.trim(), 'first');
    assert.not.match(a.stderr, /WARNING|IDENTIFICATION HAS CHANGED|Permanently added/);
    const firstKeys = keysOf(first.knownHosts);
    const login = { host: '127.0.0.1', port: ctx.miner.sshPort, username: 'root', password: first.password, command: 'echo pinned', timeoutMs: 20_000 };
    assert.is((await sshRun({ ...login, hostKeys: firstKeys })).trim(), 'pinned');
    const released = await cli(ctx, ['release', ctx.miner.url, '--key', first.keyFile]);
    assert.is(released.code, 0, released.stderr);
    made.pop();

    const second = await rent(ctx, 'second');
    made.push(second.keyFile);
    const secondKeys = keysOf(second.knownHosts);
    assert.is.not(secondKeys[0], firstKeys[0], 'a new rental has a new host key');
    const b = await sshAsPrinted(ctx, second.sshLine, 'echo second');
    assert.is(b.code, 0, b.stderr);
    assert.is(b.stdout.trim(), 'second');
    assert.not.match(b.stderr, /WARNING|IDENTIFICATION HAS CHANGED|Permanently added/);
    assert.is((await sshRun({ ...login, password: second.password, hostKeys: secondKeys })).trim(), 'pinned');

    // The first rental's pin does not open the second: OpenSSH and the product's login refuse it.
    const stale = await sshAsPrinted(ctx, first.sshLine, 'echo should-not-run');
    assert.is.not(stale.code, 0);
    assert.match(stale.stderr, 'REMOTE HOST IDENTIFICATION HAS CHANGED');
    assert.not.match(stale.stdout, 'should-not-run');
    try {
      await sshRun({ ...login, password: second.password, hostKeys: firstKeys });
      assert.unreachable('a mismatched pin must be refused');
    } catch (err) {
      assert.match((err as Error).message, /^host key mismatch: the host offered ssh-ed25519 SHA256:\S+, not the pinned SHA256:/);
    }
  } finally {
    for (const keyFile of made) if (existsSync(keyFile)) await cli(ctx, ['release', ctx.miner.url, '--key', keyFile]);
  }
});

pinned.run();
