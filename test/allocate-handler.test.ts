// The Allocate plugin over a real container manager: every row of the case table, `info`
// decrypted with Node's own RSA-OAEP, bad input refused by the schema with nothing changed,
// and 503 while Docker is unreachable or the base image is still building.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { allocateRequestSchema, parseWith, type AllocateResponse } from '../protocol/index.js';
import { SynapseError, type RequestContext } from '../src/axon/synapse.js';
import { createContainerManager, type ContainerManager } from '../src/containers/index.js';
import { allocatePlugin } from '../src/handlers/allocate.js';
import { silentLogger } from '../src/log.js';
import { allocationContainers, runManagerOptions, sshRun, startManagerRun, stopManagerRun, trackedHolders, type ManagerRun } from './helpers/docker.js';
import { sshKeyPair } from './helpers/ssh-keys.js';
import { sshRun as pinnedLogin } from '../src/validator/ssh-login.js';

const MiB = 1024 * 1024;

interface Ctx extends ManagerRun {
  extraTags: string[];
}
const handler = suite<Ctx>('Allocate handler');

handler.before(async (ctx) => {
  ctx.extraTags = [];
  Object.assign(ctx, await startManagerRun('alloc'));
});

handler.after(async (ctx) => {
  for (const tag of ctx.extraTags ?? []) await ctx.docker?.getImage(tag).remove({ force: true }).catch(() => undefined);
  await stopManagerRun(ctx);
});

function requestContext(): RequestContext {
  return { hotkey: '5validator', stake: 0, deadline: Date.now() + 60_000, signal: new AbortController().signal, receivedAt: Date.now(), log: silentLogger() };
}

/** Validates like the axon does, then forwards. */
async function send(manager: ContainerManager, body: Record<string, unknown>): Promise<AllocateResponse> {
  const parsed = parseWith(allocateRequestSchema, body);
  if (!parsed.ok) throw new Error(`422 ${parsed.message}`);
  return allocatePlugin(manager).forward(parsed.value, requestContext());
}

async function statusOf(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SynapseError) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: 200, message: 'OK' };
}

const holders = trackedHolders();
handler.after.each((ctx) => holders.release(ctx.manager));

const device = { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {} };
const runContainers = async (ctx: Ctx) => allocationContainers(ctx.docker, ctx.run, ctx.manager);

handler('every case of the table: check free → allocate → check holder → actions → de-allocate', async (ctx) => {
  const renter = holders.keys();
  const stranger = holders.keys();
  const key = sshKeyPair();

  assert.equal(await send(ctx.manager, { timeline: 1, checking: true, device_requirement: device }), { output: { status: true, port: ctx.port } });

  const allocated = await send(ctx.manager, { timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device, docker_requirement: { ssh_key: key.public } });
  assert.is(allocated.output.status, true);
  assert.is(allocated.output.port, ctx.port);
  assert.is(allocated.output.error, undefined);
  // `info` is RSA-OAEP with SHA-256 (OAEP and MGF1), decrypted here by Node's own crypto.
  const plain = privateDecrypt({ key: renter.privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(allocated.output.info!, 'base64'));
  const credentials = JSON.parse(plain.toString('utf8')) as { username: string; password: string; port: number; version: number };
  assert.equal(Object.keys(credentials).sort(), ['password', 'port', 'username', 'version']);
  assert.is(credentials.username, 'root');
  assert.is(credentials.port, ctx.port);
  assert.ok(Number.isInteger(credentials.version));
  assert.not.ok(JSON.stringify(allocated).includes(credentials.password));
  assert.is((await sshRun(ctx.port, { password: credentials.password }, 'echo in')).trim(), 'in');
  // Beside `info` in the signed output: the rental's host key, which a pinned login accepts.
  assert.equal(Object.keys(allocated.output).sort(), ['host_keys', 'info', 'port', 'status']);
  assert.match(allocated.output.host_keys![0]!, /^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
  assert.is((await pinnedLogin({ host: '127.0.0.1', port: ctx.port, username: 'root', password: credentials.password, command: 'echo pinned', timeoutMs: 20_000, hostKeys: allocated.output.host_keys })).trim(), 'pinned');

  assert.equal(await send(ctx.manager, { timeline: 1, checking: true, device_requirement: device }), { output: { status: false, port: ctx.port, error: 'already allocated: this miner is rented out' } });
  assert.equal(await send(ctx.manager, { timeline: 0, checking: true, public_key: renter.publicKeyPem }), { output: { status: true, port: ctx.port } });
  assert.equal((await send(ctx.manager, { timeline: 0, checking: true, public_key: stranger.publicKeyPem })).output.status, false);

  // checking=true is a question even with docker_change set: nothing is paused.
  assert.equal(await send(ctx.manager, { timeline: 0, checking: true, public_key: renter.publicKeyPem, docker_change: true, docker_action: { action: 'pause' } }), { output: { status: true, port: ctx.port } });
  assert.is((await runContainers(ctx))[0]?.State, 'running');

  const act = (action: string, pem = renter.publicKeyPem, extra: Record<string, unknown> = {}) =>
    send(ctx.manager, { timeline: 0, checking: false, public_key: pem, docker_change: true, docker_action: { action, ...extra } });
  assert.equal((await act('pause', stranger.publicKeyPem)).output, { status: false, port: ctx.port, error: 'permission denied: public_key is not the holder of this allocation' });
  assert.equal((await act('pause')).output, { status: true, port: ctx.port });
  assert.is((await runContainers(ctx))[0]?.State, 'paused');
  assert.equal((await act('resume')).output, { status: true, port: ctx.port });
  assert.is((await runContainers(ctx))[0]?.State, 'running');
  assert.equal((await act('pause')).output.status, true);
  assert.equal((await act('unpause')).output.status, true);
  assert.equal((await act('restart')).output, { status: true, port: ctx.port });
  const terminal = sshKeyPair('terminal');
  assert.equal((await act('exchange_key', renter.publicKeyPem, { ssh_key: terminal.public, key_type: 'terminal' })).output.status, true);
  assert.is((await sshRun(ctx.port, { privateKey: terminal.private }, 'echo t')).trim(), 't');
  assert.is((await sshRun(ctx.port, { privateKey: key.private }, 'echo u')).trim(), 'u');

  assert.equal((await send(ctx.manager, { timeline: 0, checking: false, public_key: stranger.publicKeyPem })).output.error, 'permission denied: public_key is not the holder of this allocation');
  assert.is((await runContainers(ctx)).length, 1);
  assert.equal(await send(ctx.manager, { timeline: 0, checking: false, public_key: renter.publicKeyPem }), { output: { status: true, port: ctx.port } });
  assert.is((await runContainers(ctx)).length, 0);
});

handler('bad input is refused with the field path and changes nothing', async (ctx) => {
  const renter = holders.keys();
  const base = { timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device };
  const weak = generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const ssh = sshKeyPair().public;
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['malformed PEM', { ...base, public_key: '-----BEGIN PUBLIC KEY-----\nnot base64 !!\n-----END PUBLIC KEY-----\n' }, /^422 public_key: /],
    ['512-bit RSA key', { ...base, public_key: weak }, /^422 public_key: must be 2048–4096 bits, not 512/],
    ['ssh_key with a newline and a command', { ...base, docker_requirement: { ssh_key: `${ssh}\ntouch /tmp/pwned` } }, /^422 docker_requirement\.ssh_key: /],
    ['ssh_key with authorized_keys options', { ...base, docker_requirement: { ssh_key: `command="sh" ${ssh}` } }, /^422 docker_requirement\.ssh_key: /],
    ['negative memory', { ...base, device_requirement: { ...device, ram: { capacity: -1 } } }, /^422 device_requirement\.ram\.capacity: must be ≥/],
    ['absurd disk', { ...base, device_requirement: { ...device, hard_disk: { capacity: 2 ** 52 } } }, /^422 device_requirement\.hard_disk\.capacity: must be ≤/],
    ['negative timeline', { ...base, timeline: -1 }, /^422 timeline: must be ≥ 0/],
    ['zero cores', { ...base, device_requirement: { ...device, cpu: { count: 0 } } }, /^422 device_requirement\.cpu\.count: must be ≥ 1/],
    ['unknown docker_action', { timeline: 0, checking: false, public_key: renter.publicKeyPem, docker_change: true, docker_action: { action: 'rm -rf' } }, /^422 docker_action\.action: must be one of/],
  ];
  for (const [name, body, pattern] of cases) {
    const err = await send(ctx.manager, body).then(() => null, (e: Error) => e);
    assert.ok(err, `${name} was accepted`);
    assert.match(err!.message, pattern, name);
  }
  // More cores than the host has: a domain refusal (status false), not a 422.
  const many = { ...device, cpu: { count: 4096 } };
  const check = await send(ctx.manager, { timeline: 1, checking: true, device_requirement: many });
  assert.is(check.output.status, false);
  assert.match(check.output.error ?? '', /^insufficient CPU: 4096 cores requested/);
  const attempt = await send(ctx.manager, { ...base, device_requirement: many });
  assert.is(attempt.output.status, false);
  assert.is(attempt.output.info, undefined);
  assert.is((await runContainers(ctx)).length, 0);
  assert.is(ctx.manager.state().allocated, false);
});

handler('503 while the base image is building, then served', async (ctx) => {
  const tag = `${ctx.run.namePrefix}base:latest`;
  ctx.extraTags.push(tag);
  const fresh = createContainerManager(runManagerOptions(ctx.docker, ctx.run, ctx.port, { dataDir: `${ctx.run.dataDir}/fresh`, baseImage: { tag } }));
  try {
    await fresh.start();
    assert.is(fresh.state().baseImage, 'building');
    assert.equal(await statusOf(send(fresh, { timeline: 1, checking: true, device_requirement: device })), { code: 503, message: 'base image not ready yet: building' });
    // Holder questions do not need the image.
    assert.is((await send(fresh, { timeline: 0, checking: true, public_key: holders.keys().publicKeyPem })).output.status, false);
    await fresh.baseImageReady();
    assert.is(fresh.state().baseImage, 'ready');
    assert.equal(await send(fresh, { timeline: 1, checking: true, device_requirement: device }), { output: { status: true, port: ctx.port } });
  } finally {
    await fresh.stop();
  }
});

handler('503 "Docker daemon unreachable" when the daemon does not answer', async (ctx) => {
  const orphan = createContainerManager({
    dockerSocket: `${ctx.run.dataDir}/no-such-docker.sock`, dataDir: `${ctx.run.dataDir}/down`, minerHotkey: ctx.run.hotkey.ss58Address,
    sshPort: ctx.port, sshBind: '127.0.0.1', namePrefix: ctx.run.namePrefix, log: silentLogger(),
  });
  try {
    await orphan.start(); // never throws: reconciles once Docker answers
    const renter = holders.keys();
    for (const body of [
      { timeline: 1, checking: true, device_requirement: device },
      { timeline: 1, checking: false, public_key: renter.publicKeyPem, device_requirement: device },
      { timeline: 0, checking: false, public_key: renter.publicKeyPem },
    ]) {
      assert.equal(await statusOf(send(orphan, body)), { code: 503, message: 'Docker daemon unreachable' });
    }
  } finally {
    await orphan.stop();
  }
});

handler.run();
