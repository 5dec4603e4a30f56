// The miner process (the CLI with --hosts) killed with SIGKILL while it holds rentals on two
// real hosts — the rental daemon on its unix socket and a private dockerd over mutual TLS: the
// rentals keep running without it, and the restarted miner finds every one of them again (each
// holder's check answers, the status page lists them by host, files written before are there).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { generateHotkey } from '../protocol/index.js';
import { decryptAllocationInfo } from '../src/validator/credentials.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { cleanupCliMiners, healthy, spawnCliMiner, type CliMiner } from './helpers/cli-miner.js';
import { freePort, freePorts, renterKeys, requireDocker, sshRun, testRun, RENTAL_SOCKET, type TestRun } from './helpers/docker.js';
import { startTlsDockerd, type TlsDockerd } from './helpers/tls-dockerd.js';

const MiB = 1024 * 1024;
const device = { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 512 * MiB }, gpu: {} };

interface Ctx {
  local: Dockerode;
  remote: TlsDockerd;
  dir: string;
  run: TestRun;
  hostsFile: string;
  port: number;
  miners: CliMiner[];
}
const restart = suite<Ctx>('a miner of two hosts killed with SIGKILL');

restart.before(async (ctx) => {
  ctx.local = await requireDocker();
  ctx.run = testRun(ctx.local, 'fleet-kill');
  ctx.miners = [];
  ctx.dir = mkdtempSync(join(tmpdir(), 'cm-fleet-kill-'));
  ctx.remote = await startTlsDockerd(ctx.dir, `k${randomBytes(3).toString('hex')}`);
  ctx.port = await freePort();
  const a = await freePorts(2, [ctx.port]);
  const b = await freePorts(2, [ctx.port, ...a]);
  ctx.hostsFile = join(ctx.dir, 'hosts.json');
  writeFileSync(ctx.hostsFile, JSON.stringify({ hosts: [
    { name: 'a', engine: `unix://${RENTAL_SOCKET}`, address: '127.0.0.1', ssh_bind: '127.0.0.1', ssh_ports: a.join(',') },
    {
      name: 'b', engine: ctx.remote.engine, tls: { ca: ctx.remote.tls.ca, cert: ctx.remote.tls.clientCert, key: ctx.remote.tls.clientKey },
      address: '127.0.0.1', ssh_bind: '127.0.0.1', ssh_ports: b.join(','),
    },
  ] }, null, 2));
});

restart.after(async (ctx) => {
  // The CLI labels what it makes with its hotkey, on every host.
  if (ctx.local) await cleanupCliMiners(ctx.local, ctx.miners ?? []).catch(() => undefined);
  if (ctx.remote) {
    await cleanupCliMiners(ctx.remote.docker, ctx.miners ?? []).catch(() => undefined);
    await ctx.remote.destroy();
  }
  if (ctx.local && ctx.run) await ctx.run.cleanup();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

async function startMiner(ctx: Ctx): Promise<CliMiner> {
  const miner = await spawnCliMiner(ctx.run, 'fleet', {
    dataDir: join(ctx.run.dataDir, 'fleet'), port: ctx.port, sshFlags: false, args: ['--hosts', ctx.hostsFile, '--allow-any'],
  });
  ctx.miners.push(miner);
  // Both hosts answer and have the base image (host b's arrives from host a through the engine API).
  await healthy(miner, (h) => Array.isArray(h.allocation?.hosts) && h.allocation.hosts.every((x: { up: boolean; baseImage: string }) => x.up && x.baseImage === 'ready'), 300_000);
  return miner;
}

async function kill(miner: CliMiner): Promise<void> {
  if (miner.child.exitCode === null && miner.child.signalCode === null) miner.child.kill('SIGKILL');
  await miner.exited;
}

function client(ctx: Ctx): Dendrite {
  return new Dendrite({ hotkey: generateHotkey(), url: `ws://127.0.0.1:${ctx.port}`, timeoutMs: 120_000 });
}

interface Held { pem: string; port: number; host?: string; password: string; mark: string }

async function ownContainers(docker: Dockerode, miner: CliMiner): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { name: [miner.namePrefix] } });
  return list.filter((c) => !c.Names.some((n) => n.endsWith('ssh-standby'))).length;
}

restart('rentals on both hosts survive kill -9 of the miner, and the restarted miner holds every one', async (ctx) => {
  const first = await startMiner(ctx);
  const cores = (await ctx.local.info()).NCPU + (await ctx.remote.docker.info()).NCPU;
  const slots = 4; // two SSH ports per host in the file
  const want = Math.min(cores, slots);
  const held: Held[] = [];
  const dendrite = client(ctx);
  try {
    for (let i = 0; i < want; i++) {
      const keys = renterKeys();
      const reply = await dendrite.call('Allocate', { timeline: 1, checking: false, public_key: keys.publicKeyPem, device_requirement: device });
      const out = (reply.body as { output: { status: boolean; info?: string; error?: string; host?: string } }).output;
      assert.ok(out.status, out.error);
      const credentials = decryptAllocationInfo(out.info!, keys.privateKeyPem);
      const mark = randomBytes(8).toString('hex');
      assert.is((await sshRun(credentials.port, { password: credentials.password }, `echo ${mark} > /root/mark && cat /root/mark`)).trim(), mark);
      held.push({ pem: keys.publicKeyPem, port: credentials.port, ...(out.host ? { host: out.host } : {}), password: credentials.password, mark });
    }
  } finally {
    await dendrite.close();
  }
  const local = await ownContainers(ctx.local, first);
  const remote = await ownContainers(ctx.remote.docker, first);
  assert.is(local + remote, want);
  assert.ok(local > 0 && remote > 0, `rentals on both hosts (${local} local, ${remote} remote)`);

  await kill(first);
  // The rentals do not depend on the miner process.
  for (const h of held) assert.is((await sshRun(h.port, { password: h.password }, 'cat /root/mark')).trim(), h.mark);

  const second = await startMiner(ctx);
  const again = client(ctx);
  try {
    for (const h of held) {
      const check = await again.call('Allocate', { timeline: 0, checking: true, public_key: h.pem });
      assert.equal((check.body as { output: unknown }).output, { status: true, port: h.port }, 'the holder still holds its rental');
      assert.is((await sshRun(h.port, { password: h.password }, 'cat /root/mark')).trim(), h.mark, 'same container, files kept');
    }
    const status = await fetch(`http://127.0.0.1:${ctx.port}/status.json`).then((r) => r.json() as Promise<{ rentals: { host?: string; port: number; state: string }[]; hosts: { name: string; up: boolean; rentals: number }[] }>);
    assert.equal(status.rentals.map((r) => r.port).sort(), held.map((h) => h.port).sort(), 'the status page lists every rental');
    assert.ok(status.rentals.every((r) => (r.host === 'a' || r.host === 'b') && r.state === 'running'));
    assert.equal(status.hosts.map((h) => [h.name, h.up, h.rentals]), [['a', true, local], ['b', true, remote]]);
    // A new holder finds no room: every slot is still taken after the restart.
    const busy = await again.call('Allocate', { timeline: 1, checking: true, device_requirement: device });
    assert.is((busy.body as { output: { status: boolean } }).output.status, false);
    for (const h of held) {
      const freed = await again.call('Allocate', { timeline: 0, checking: false, public_key: h.pem });
      assert.equal((freed.body as { output: unknown }).output, { status: true, port: h.port });
    }
  } finally {
    await again.close();
  }
  assert.is(await ownContainers(ctx.local, second) + await ownContainers(ctx.remote.docker, second), 0, 'released on both hosts');
  await kill(second);
});

restart.run();
