// The reference validator's sequence on a real rental, over one SSH session: log in with the
// password, upload a script by SFTP, check its sha256 with the container's python3, run it
// (stderr must stay empty), and download by SFTP the file it wrote under /dev/shm. Then the
// hardware check on that session, honest and with a python3 that writes to stderr.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { checkHardware, sha256Command } from '../src/validator/hardware.js';
import { SshSession } from '../src/validator/ssh-session.js';
import { renterKeys, startManagerRun, stopManagerRun, type ManagerRun } from './helpers/docker.js';

const MiB = 1024 * 1024;
const seq = suite<ManagerRun & { session?: SshSession; holder: string }>('reference validator sequence');

seq.before(async (ctx) => {
  Object.assign(ctx, await startManagerRun('refseq'));
  const keys = renterKeys();
  ctx.holder = keys.publicKeyPem;
  const r = await ctx.manager.allocate({
    timelineDays: 1 / 24, publicKeyPem: keys.publicKeyPem, sshKey: '', dockerfile: '',
    device: { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {}, testing: true },
  });
  if (!r.status) throw new Error(r.error);
  ctx.session = await SshSession.open({ host: '127.0.0.1', port: r.credentials.port, username: 'root', password: r.credentials.password, timeoutMs: 20_000 });
});

seq.after(async (ctx) => {
  ctx.session?.close();
  if (ctx.holder) await ctx.manager?.deallocate(ctx.holder).catch(() => undefined);
  await stopManagerRun(ctx);
});

const SCRIPT = [
  'import json, os, sys',
  'out = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "result.json")',
  'with open(out, "w") as f:',
  '    json.dump({"cpus": len(os.sched_getaffinity(0)), "token": sys.argv[1]}, f)',
  'print("done")',
  '',
].join('\n');

seq('password SSH → SFTP upload → sha256 by the container\'s python → run, stderr empty → SFTP download from /dev/shm', async (ctx) => {
  const s = ctx.session!;
  const dir = `/dev/shm/refseq-${randomBytes(6).toString('hex')}`;
  await s.mkdir(dir, 10_000);
  await s.upload(`${dir}/script.py`, SCRIPT, 10_000);

  const hashed = await s.exec(sha256Command(`${dir}/script.py`), 10_000);
  assert.equal(hashed, { stdout: `${createHash('sha256').update(SCRIPT).digest('hex')}\n`, stderr: '', code: 0 });

  const token = randomBytes(8).toString('hex');
  const ran = await s.exec(`python3 ${dir}/script.py ${token}`, 20_000);
  assert.equal(ran, { stdout: 'done\n', stderr: '', code: 0 });

  const result = JSON.parse((await s.download(`${dir}/result.json`, 10_000)).toString('utf8'));
  assert.equal(result, { cpus: 1, token });
});

seq('the same session sees a script\'s stderr and exit code (what fails a miner)', async (ctx) => {
  const s = ctx.session!;
  const ran = await s.exec(`python3 -c 'import sys; sys.stderr.write("warning: x\\n"); sys.exit(3)'`, 10_000);
  assert.equal(ran, { stdout: '', stderr: 'warning: x\n', code: 3 });
  const missing = await s.download('/dev/shm/no-such-file', 5_000).then(() => null, (e: Error) => e.message);
  assert.match(missing ?? '', /^SFTP download \/dev\/shm\/no-such-file: /);
});

seq('a rental whose python3 writes to stderr while the probe runs: PROOF_FAILED, though the hash matched', async (ctx) => {
  const s = ctx.session!;
  const asked = { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {} };
  // First the honest rental: the same session proves it.
  const honest = await checkHardware(s, asked, null);
  assert.is(honest.failure, undefined, honest.failure?.reason);
  assert.is(honest.measured!.cores, 1);
  // Then the rental's own python3 is made to talk on stderr when it runs a probe.py, as a noisy or
  // meddling interpreter would (a usercustomize hook: Debian keeps its own sitecustomize); the
  // sha256 check (another program) still passes.
  const hook = 'import sys\nif sys.argv and sys.argv[0].endswith("probe.py"): sys.stderr.write("DeprecationWarning: noise\\n")\n';
  const where = await s.exec(`python3 -c 'import site; print(site.getusersitepackages())'`, 10_000);
  assert.is(where.code, 0, where.stderr);
  const dir = where.stdout.trim();
  assert.match(dir, /^\/[\w./-]+$/);
  assert.is((await s.exec(`mkdir -p ${dir}`, 10_000)).code, 0);
  await s.upload(`${dir}/usercustomize.py`, hook, 10_000);
  try {
    const noisy = await checkHardware(s, asked, null);
    assert.equal(noisy.failure, { verdict: 'PROOF_FAILED', reason: 'the probe wrote to stderr: DeprecationWarning: noise' });
    assert.is(noisy.proof.ok, false);
  } finally {
    await s.exec(`rm -f ${dir}/usercustomize.py`, 10_000);
  }
});

seq.run();
