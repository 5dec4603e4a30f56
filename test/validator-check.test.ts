// The miner checker against a real miner on the real Docker daemon (OK, with timings, nothing
// left behind) and against real axons made to misbehave in each way that earns a verdict:
// refusing, signing with another key, undecryptable info, wrong password, a release that
// never succeeds, a dropped connection, a handler that hangs and a port that never answers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encryptAllocationInfo, generateHotkey, type Hotkey } from '../protocol/index.js';
import { checkMiner, checkMiners, penalisedList, type CheckDeps, type CheckResult } from '../src/validator/checker.js';
import type { TestAxon } from './helpers/axon.js';
import { sshKeyPair } from './helpers/ssh-keys.js';
import { rentedContainers, startTestMiner, type TestMiner } from './helpers/miner.js';
import {
  hang, impostorHotkey, output, startFakeMiner, startSilentListener, startSshServer, type FakeAnswer, type TestSshServer,
} from './helpers/miner-fakes.js';

const MiB = 1024 * 1024;

interface Ctx {
  miner: TestMiner;
  validator: Hotkey;
  closers: (() => Promise<void>)[];
}
const check = suite<Ctx>('validator check');

check.before(async (ctx) => {
  ctx.closers = [];
  ctx.validator = generateHotkey();
  ctx.miner = await startTestMiner({ area: 'check' });
});

check.after(async (ctx) => {
  for (const close of ctx.closers ?? []) await close().catch(() => undefined);
  await ctx.miner?.close();
});

// Small enough for any CI host; a short deadline so the misbehaving cases finish quickly.
// The axon doubles below have SSH servers that cannot run the probe, so they are checked to
// the reference checker's extent (hardware: false); validator-hardware.test.ts proves hardware.
const device = { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {} };
const deps = (ctx: Ctx, extra: Partial<CheckDeps> = {}): CheckDeps => ({
  hotkey: ctx.validator, device, deadlineMs: 30_000, deallocateBackoffMs: 50, hardware: false, ...extra,
});

async function fake(ctx: Ctx, answer: FakeAnswer, hotkey?: Hotkey): Promise<TestAxon> {
  const axon = await startFakeMiner(answer, hotkey);
  ctx.closers.push(() => axon.close());
  return axon;
}

async function sshServer(ctx: Ctx, password: string | null, address?: string): Promise<TestSshServer> {
  const server = await startSshServer(password, address);
  ctx.closers.push(() => server.close());
  return server;
}

/** Says yes to the check and to the release, and answers the allocation with `allocated`. */
const allocatesWith = (allocated: FakeAnswer): FakeAnswer => (req, intent, c) => {
  if (intent.kind === 'allocate') return allocated(req, intent, c);
  return output(true);
};

const stepsOf = (r: CheckResult) => r.steps.map((s) => `${s.step}:${s.ok ? 'ok' : 'fail'}`);

check('a working miner: OK, with a timing for every step, and its test container is gone afterwards', async (ctx) => {
  const result = await checkMiner({ url: ctx.miner.url }, deps(ctx, { hardware: {}, deadlineMs: 90_000 }));
  assert.is(result.verdict, 'OK', result.reason);
  assert.is(result.hotkey, ctx.miner.hotkeySs58);
  assert.equal(stepsOf(result), ['specs:ok', 'check:ok', 'allocate:ok', 'ssh:ok', 'proof:ok', 'deallocate:ok']);
  for (const step of result.steps) assert.ok(step.ms > 0 && step.ms <= result.totalMs, `${step.step} took ${step.ms} ms`);
  assert.is(result.steps.at(-1)!.attempts, 1);
  assert.is(result.proof?.ok, true);
  const left = await rentedContainers(ctx.miner);
  assert.is(left.length, 0);
  assert.is(ctx.miner.manager.state().allocated, false);
  assert.equal(penalisedList([result]), []);
});

check('the test allocation is made with testing: true and a fresh RSA key, and released with the same key', async (ctx) => {
  const seen: { testing?: boolean; key: string; kind: string }[] = [];
  const password = 'right-password-0123456789';
  const ssh = await sshServer(ctx, password);
  const axon = await fake(ctx, (req, intent) => {
    seen.push({ testing: req.device_requirement.testing, key: req.public_key, kind: intent.kind });
    if (intent.kind === 'allocate') return output(true, { port: ssh.port, info: encryptAllocationInfo({ username: 'root', password, port: ssh.port, version: 1 }, req.public_key) });
    return output(true);
  });
  const first = await checkMiner({ url: axon.url }, deps(ctx));
  const second = await checkMiner({ url: axon.url }, deps(ctx));
  assert.is(first.verdict, 'OK', first.reason);
  assert.is(second.verdict, 'OK', second.reason);
  assert.equal(seen.map((s) => s.kind), ['check-free', 'allocate', 'deallocate', 'check-free', 'allocate', 'deallocate']);
  assert.is(seen[1]!.testing, true);
  assert.ok(seen[1]!.key.includes('BEGIN PUBLIC KEY'));
  assert.is(seen[2]!.key, seen[1]!.key);
  assert.is.not(seen[4]!.key, seen[1]!.key);
  assert.equal(ssh.attempts, [password, password]);
});

check('the login is pinned to the reply\'s host_keys: the served key is OK, another is SSH_ACCESS_DISABLED naming both keys', async (ctx) => {
  const password = 'pinned-password-0123456789';
  const ssh = await sshServer(ctx, password);
  const other = sshKeyPair('other-host').public;
  const answering = (hostKeys: string[]) => fake(ctx, allocatesWith((req) => output(true, {
    port: ssh.port, host_keys: hostKeys, info: encryptAllocationInfo({ username: 'root', password, port: ssh.port, version: 1 }, req.public_key),
  })));
  const served = await checkMiner({ url: (await answering([ssh.hostKey])).url }, deps(ctx));
  assert.is(served.verdict, 'OK', served.reason);
  const swapped = await checkMiner({ url: (await answering([other])).url }, deps(ctx));
  assert.is(swapped.verdict, 'SSH_ACCESS_DISABLED');
  assert.match(swapped.reason, /port \d+: host key mismatch: the host offered ssh-ed25519 SHA256:\S+, not the pinned SHA256:\S+ from the miner's signed Allocate reply/);
  assert.equal(ssh.attempts, [password], 'no password is offered to a host that is not the pinned one');
  assert.equal(stepsOf(swapped), ['check:ok', 'allocate:ok', 'ssh:fail', 'deallocate:ok']);
});

check('the reply\'s host is where the login goes (a miner fronting another machine); a host that is no address is ALLOCATION_ERROR, released', async (ctx) => {
  const password = 'elsewhere-password-0123456789';
  // The axon on 127.0.0.1, the rental's SSH on 127.0.0.3: only the reply's host finds it.
  const ssh = await sshServer(ctx, password, '127.0.0.3');
  const answering = (host: string) => fake(ctx, allocatesWith((req) => output(true, {
    port: ssh.port, host, info: encryptAllocationInfo({ username: 'root', password, port: ssh.port, version: 1 }, req.public_key),
  })));
  const there = await checkMiner({ url: (await answering('127.0.0.3')).url }, deps(ctx));
  assert.is(there.verdict, 'OK', there.reason);
  assert.equal(ssh.attempts, [password]);
  const bad = await checkMiner({ url: (await answering('127.0.0.3;id')).url }, deps(ctx));
  assert.is(bad.verdict, 'ALLOCATION_ERROR');
  assert.match(bad.reason, /the miner's host "127\.0\.0\.3;id" is neither an IP address nor a host name/);
  assert.equal(stepsOf(bad), ['check:ok', 'allocate:ok', 'deallocate:ok']);
  assert.equal(ssh.attempts, [password], 'no login was tried for the bad host');
});

check('a miner that refuses the check: ALLOCATION_FAILED with its reason, nothing allocated', async (ctx) => {
  const kinds: string[] = [];
  const axon = await fake(ctx, (_req, intent) => {
    kinds.push(intent.kind);
    return output(false, { error: 'the base image is missing' });
  });
  const result = await checkMiner({ url: axon.url }, deps(ctx));
  assert.is(result.verdict, 'ALLOCATION_FAILED');
  assert.match(result.reason, 'the base image is missing');
  assert.equal(kinds, ['check-free']);
  assert.equal(stepsOf(result), ['check:fail']);
  assert.equal(penalisedList([result]), [{ hotkey: axon.hotkey.ss58Address, url: axon.url, status_code: 'ALLOCATION_FAILED', description: result.reason }]);
});

check('a miner that passes the check but refuses the allocation: ALLOCATION_FAILED, no release needed', async (ctx) => {
  const kinds: string[] = [];
  const axon = await fake(ctx, (_req, intent) => {
    kinds.push(intent.kind);
    return intent.kind === 'allocate' ? output(false, { error: 'base image not ready' }) : output(true);
  });
  const result = await checkMiner({ url: axon.url }, deps(ctx));
  assert.is(result.verdict, 'ALLOCATION_FAILED');
  assert.equal(kinds, ['check-free', 'allocate']);
});

check('a miner whose replies are signed by another key than its address: ALLOCATION_ERROR', async (ctx) => {
  const axon = await fake(ctx, () => output(true), impostorHotkey());
  const result = await checkMiner({ url: axon.url }, deps(ctx));
  assert.is(result.verdict, 'ALLOCATION_ERROR');
  assert.match(result.reason, 'signature does not verify');
});

check('a real miner called under another hotkey (wrong --axon-hotkey): ALLOCATION_ERROR, nothing allocated', async (ctx) => {
  const result = await checkMiner({ url: ctx.miner.url, axonHotkey: generateHotkey().ss58Address }, deps(ctx));
  assert.is(result.verdict, 'ALLOCATION_ERROR');
  assert.match(result.reason, `signed by ${ctx.miner.hotkeySs58}`);
  assert.is(ctx.miner.manager.state().allocated, false);
});

check('undecryptable info: ALLOCATION_ERROR, and the allocation is still released', async (ctx) => {
  const kinds: string[] = [];
  const axon = await fake(ctx, (req, intent, c) => {
    kinds.push(intent.kind);
    return allocatesWith(() => output(true, { info: Buffer.from('x'.repeat(256)).toString('base64'), port: 22 }))(req, intent, c);
  });
  const result = await checkMiner({ url: axon.url }, deps(ctx));
  assert.is(result.verdict, 'ALLOCATION_ERROR');
  assert.match(result.reason, 'does not decrypt');
  assert.equal(kinds, ['check-free', 'allocate', 'deallocate']);
  assert.equal(stepsOf(result), ['check:ok', 'allocate:ok', 'deallocate:ok']);
});

check('info encrypted to another key: ALLOCATION_ERROR', async (ctx) => {
  const { generateRenterKeyPair } = await import('../src/validator/credentials.js');
  const other = generateRenterKeyPair();
  const axon = await fake(ctx, allocatesWith(() => output(true, { port: 22, info: encryptAllocationInfo({ username: 'root', password: 'p', port: 22, version: 1 }, other.publicKeyPem) })));
  const result = await checkMiner({ url: axon.url }, deps(ctx));
  assert.is(result.verdict, 'ALLOCATION_ERROR');
  assert.match(result.reason, 'does not decrypt');
});

check('valid credentials that do not open the box (wrong password): SSH_ACCESS_DISABLED, released', async (ctx) => {
  const ssh = await sshServer(ctx, null);
  const axon = await fake(ctx, allocatesWith((req) => output(true, {
    port: ssh.port, info: encryptAllocationInfo({ username: 'root', password: 'not-the-password', port: ssh.port, version: 1 }, req.public_key),
  })));
  const result = await checkMiner({ url: axon.url }, deps(ctx));
  assert.is(result.verdict, 'SSH_ACCESS_DISABLED');
  assert.equal(ssh.attempts, ['not-the-password']);
  assert.equal(stepsOf(result), ['check:ok', 'allocate:ok', 'ssh:fail', 'deallocate:ok']);
});

check('a release that keeps failing: DEALLOCATION_FAILED after 3 attempts', async (ctx) => {
  const password = 'the-password-0123456789';
  const ssh = await sshServer(ctx, password);
  let releases = 0;
  const axon = await fake(ctx, (req, intent) => {
    if (intent.kind === 'deallocate') {
      releases++;
      return output(false, { error: 'no such container' });
    }
    if (intent.kind === 'allocate') return output(true, { port: ssh.port, info: encryptAllocationInfo({ username: 'root', password, port: ssh.port, version: 1 }, req.public_key) });
    return output(true);
  });
  const result = await checkMiner({ url: axon.url }, deps(ctx));
  assert.is(result.verdict, 'DEALLOCATION_FAILED');
  assert.is(releases, 3);
  assert.is(result.steps.at(-1)!.attempts, 3);
  assert.match(result.reason, 'no such container');
});

check('a miner that drops the connection mid-request: ALLOCATION_ERROR', async (ctx) => {
  let axon: TestAxon | undefined;
  axon = await fake(ctx, async (_req, intent, c) => {
    if (intent.kind === 'check-free') {
      void axon!.close(); // the miner goes away while the request is in flight
      return hang(c);
    }
    return output(true);
  });
  const result = await checkMiner({ url: axon.url }, deps(ctx));
  assert.is(result.verdict, 'ALLOCATION_ERROR');
  assert.match(result.reason, /closed/);
});

check('a hanging miner gets its verdict at its deadline and does not hold up the others', async (ctx) => {
  const deadlineMs = 3000;
  const hanging = await fake(ctx, (_req, _intent, c) => hang(c));
  const silent = await startSilentListener();
  ctx.closers.push(() => silent.close());
  const refusing = await fake(ctx, () => output(false, { error: 'the base image is missing' }));
  // A quick, honest miner: real SSH login against an SSH server that takes its password.
  const password = 'quick-password-0123456789';
  const ssh = await sshServer(ctx, password);
  const quick = await fake(ctx, allocatesWith((req) => output(true, {
    port: ssh.port, info: encryptAllocationInfo({ username: 'root', password, port: ssh.port, version: 1 }, req.public_key),
  })));
  const finished: string[] = [];
  const results = await checkMiners(
    [{ url: hanging.url }, { url: silent.url }, { url: refusing.url }, { url: quick.url }],
    { ...deps(ctx, { deadlineMs }), concurrency: 4, onResult: (r) => finished.push(r.url) },
  );
  assert.equal(results.map((r) => r.verdict), ['ALLOCATION_ERROR', 'ALLOCATION_ERROR', 'ALLOCATION_FAILED', 'OK']);
  // The quick ones are done before either stalled miner's deadline.
  assert.equal(finished.slice(0, 2).sort(), [refusing.url, quick.url].sort());
  for (const stalled of results.slice(0, 2)) {
    assert.ok(stalled.totalMs >= deadlineMs - 50 && stalled.totalMs < deadlineMs + 2000, `verdict after ${stalled.totalMs} ms`);
  }
  assert.equal(penalisedList(results).map((p) => p.status_code), ['ALLOCATION_ERROR', 'ALLOCATION_ERROR', 'ALLOCATION_FAILED']);
  assert.is(penalisedList(results)[1]!.hotkey, null); // the silent port never told its hotkey
});

check.run();
