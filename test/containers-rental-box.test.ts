// What a renter meets inside a real rental, over SSH: pip installs for root (a wheel built
// here with python3 and uploaded by SFTP, installed without any index), the expected tools are
// there, the motd states the rental's own limits and sshd shows it at an interactive login,
// and the reply's host keys are the keys the rental's sshd serves.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { knownHostsText } from '../src/validator/host-pin.js';
import { SshSession } from '../src/validator/ssh-session.js';
import { startManagerRun, stopManagerRun, trackedHolders, type ManagerRun } from './helpers/docker.js';
import { sshKeyPair } from './helpers/ssh-keys.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** The engine's answer bound: generous, the machine these suites run on is shared and loaded (docker info has taken 1.9 s). */
const ANSWER_BOUND_MS = 10_000;

interface Ctx extends Partial<ManagerRun> { dir: string }
const box = suite<Ctx>('the rental box');
const holders = trackedHolders();

box.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'rental-box-'));
  Object.assign(ctx, await startManagerRun('box', { answerBoundMs: ANSWER_BOUND_MS }));
});

box.after(async (ctx) => {
  if (ctx.manager) await holders.release(ctx.manager);
  await stopManagerRun(ctx);
  rmSync(ctx.dir, { recursive: true, force: true });
});

/** A tiny pure-Python wheel, made with python3's zipfile (no build tools, no index). */
function buildWheel(dir: string): string {
  const script = `
import base64, hashlib, sys, zipfile
name, ver = 'cm_tiny', '0.1'
info = f'{name}-{ver}.dist-info'
files = {
    f'{name}/__init__.py': b'VALUE = "tiny-wheel-ok"\\n',
    f'{info}/METADATA': b'Metadata-Version: 2.1\\nName: cm-tiny\\nVersion: 0.1\\n',
    f'{info}/WHEEL': b'Wheel-Version: 1.0\\nGenerator: compute-miner-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
out = sys.argv[1] + f'/{name}-{ver}-py3-none-any.whl'
record = []
with zipfile.ZipFile(out, 'w') as z:
    for path, data in files.items():
        z.writestr(path, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        record.append(f'{path},sha256={digest},{len(data)}')
    record.append(f'{info}/RECORD,,')
    z.writestr(f'{info}/RECORD', '\\n'.join(record) + '\\n')
print(out)
`;
  return execFileSync('python3', ['-c', script, dir], { encoding: 'utf8' }).trim();
}

box('pip installs a local wheel for root, the tools are there, the motd shows the limits, the host keys are the served ones', async (ctx) => {
  const user = sshKeyPair('renter');
  const keys = holders.keys();
  const result = await ctx.manager!.allocate({
    timelineDays: 0.5, publicKeyPem: keys.publicKeyPem, sshKey: user.public, dockerfile: '',
    device: { cpu: { count: 1 }, ram: { capacity: 384 * MiB }, hard_disk: { capacity: 2 * GiB }, gpu: {}, testing: false },
  });
  assert.ok(result.status, result.status ? '' : result.error);
  if (!result.status) return;
  const deadline = ctx.manager!.state().deadline!;
  assert.is(result.hostKeys.length, 1);
  assert.match(result.hostKeys[0]!, /^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);

  const session = await SshSession.open({
    host: '127.0.0.1', port: ctx.port!, username: 'root', password: result.credentials.password, timeoutMs: 20_000, hostKeys: result.hostKeys,
  });
  try {
    const wheel = buildWheel(ctx.dir);
    await session.upload('/tmp/cm_tiny-0.1-py3-none-any.whl', readFileSync(wheel), 10_000, 0o644);
    const pip = await session.exec('pip install --no-index /tmp/cm_tiny-0.1-py3-none-any.whl && python3 -c "import cm_tiny; print(cm_tiny.VALUE)"', 60_000);
    assert.is(pip.code, 0, pip.stdout + pip.stderr);
    assert.match(pip.stdout, /Successfully installed cm-tiny-0\.1/);
    assert.match(pip.stdout, /^tiny-wheel-ok$/m);
    assert.not.match(pip.stderr, /externally-managed-environment/);

    const tools = await session.exec('for t in git wget curl vim tmux gcc make; do command -v "$t" || echo "missing $t"; done; gcc --version | head -1', 10_000);
    assert.is(tools.code, 0, tools.stderr);
    assert.not.match(tools.stdout, 'missing');
    assert.match(tools.stdout, /gcc \(Debian/);

    const motd = (await session.exec('cat /etc/motd', 10_000)).stdout;
    assert.match(motd, /cores: +1 \(cpuset \d+\)/);
    assert.match(motd, /memory: +384 MiB/);
    assert.match(motd, /disk: +2 GiB/);
    assert.match(motd, /GPUs: +none/);
    assert.match(motd, `expires: ${new Date(deadline).toISOString().replace(/\.\d{3}Z$/, 'Z')} (UTC)`);
    // The reply's host keys are what sshd serves: the pinned session above opened, and the key file matches.
    const served = (await session.exec('cat /etc/ssh/ssh_host_ed25519_key.pub', 10_000)).stdout.trim().split(' ').slice(0, 2).join(' ');
    assert.equal([served], result.hostKeys);
  } finally {
    session.close();
  }

  // sshd shows the motd at an interactive login (OpenSSH client with a pty, pinned known_hosts).
  const identity = join(ctx.dir, 'renter');
  writeFileSync(identity, user.private, { mode: 0o600 });
  const knownHosts = join(ctx.dir, 'known_hosts');
  writeFileSync(knownHosts, knownHostsText('127.0.0.1', ctx.port!, result.hostKeys), { mode: 0o600 });
  const login = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile('ssh', [
      '-F', '/dev/null', '-i', identity, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'StrictHostKeyChecking=yes', '-tt', '-p', String(ctx.port), 'root@127.0.0.1',
    ], { timeout: 30_000 }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
    child.stdin!.end('exit\n');
  });
  assert.is(login.code, 0, login.stderr);
  assert.match(login.stdout, /compute-miner rental/);
  assert.match(login.stdout, /memory: +384 MiB/);
});

box.run();
