// The miner process (the CLI with --hosts) killed with SIGKILL while it holds rentals on two
// real hosts — the rental daemon on its unix socket and a private dockerd over mutual TLS: the
// rentals keep running without it, and the restarted miner finds every one of them again (each
// holder's check answers, the status page lists them by host, files written before are there).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  if (ctx.remote) await cleanupCliMiners(ctx.remote.docker, ctx.miners ?? []).catch(() => undefined);
  // A create the killed miner sent may still finish in the engine after the sweep above: look again.
  if (ctx.local && ctx.run) await removeLate(ctx.local, ctx.run.namePrefix);
  if (ctx.remote) await ctx.remote.destroy();
  if (ctx.local && ctx.run) await ctx.run.cleanup();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

/** Removes containers named with `prefix` until two looks a few seconds apart find none. */
async function removeLate(docker: Dockerode, prefix: string): Promise<void> {
  for (let quiet = 0, look = 0; quiet < 2 && look < 10; look++) {
    const found = await docker.listContainers({ all: true, filters: { name: [prefix] } }).catch(() => []);
    quiet = found.length === 0 ? quiet + 1 : 0;
    await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    await new Promise((r) => setTimeout(r, 3000));
  }
}

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

/** The signed output of a reply, failing with the axon's code and message when it has none. */
function outputOf<T>(reply: { code: number; message: string; body?: unknown }, miner: CliMiner): T {
  const output = (reply.body as { output?: T } | undefined)?.output;
  if (reply.code !== 200 || output === undefined) assert.unreachable(`reply ${reply.code} ${reply.message}; miner said: ${miner.stderr().slice(-2000)}`);
  return output!;
}

function client(ctx: Ctx): Dendrite {
  return new Dendrite({ hotkey: generateHotkey(), url: `ws://127.0.0.1:${ctx.port}`, timeoutMs: 120_000 });
}

interface Held { pem: string; port: number; host?: string; password: string; mark: string }

/** Containers the miner's ledger (`<data dir>/rentals/<id>.json`) says it lent: warm containers waiting for a rental are not. */
function ledgerContainers(miner: CliMiner): Set<string> {
  const dir = join(miner.dataDir, 'rentals');
  if (!existsSync(dir)) return new Set();
  return new Set(readdirSync(dir).filter((f) => f.endsWith('.json'))
    .map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { workload?: { container?: string } }).workload?.container)
    .filter((id): id is string => typeof id === 'string'));
}

async function ownContainers(docker: Dockerode, miner: CliMiner): Promise<number> {
  const held = ledgerContainers(miner);
  const list = await docker.listContainers({ all: true, filters: { name: [miner.namePrefix] } });
  return list.filter((c) => held.has(c.Id)).length;
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
      const out = outputOf<{ status: boolean; info?: string; error?: string; host?: string }>(reply, first);
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
  let lent = new Set<string>();
  try {
    for (const h of held) {
      const check = await again.call('Allocate', { timeline: 0, checking: true, public_key: h.pem });
      assert.equal(outputOf(check, second), { status: true, port: h.port }, 'the holder still holds its rental');
      assert.is((await sshRun(h.port, { password: h.password }, 'cat /root/mark')).trim(), h.mark, 'same container, files kept');
    }
    const status = await fetch(`http://127.0.0.1:${ctx.port}/status.json`).then((r) => r.json() as Promise<{ rentals: { host?: string; port: number; state: string }[]; hosts: { name: string; up: boolean; rentals: number }[] }>);
    assert.equal(status.rentals.map((r) => r.port).sort(), held.map((h) => h.port).sort(), 'the status page lists every rental');
    assert.ok(status.rentals.every((r) => (r.host === 'a' || r.host === 'b') && r.state === 'running'));
    assert.equal(status.hosts.map((h) => [h.name, h.up, h.rentals]), [['a', true, local], ['b', true, remote]]);
    // A new holder finds no room: every slot is still taken after the restart.
    const busy = await again.call('Allocate', { timeline: 1, checking: true, device_requirement: device });
    assert.is(outputOf<{ status: boolean }>(busy, second).status, false);
    lent = ledgerContainers(second);
    assert.is(lent.size, want, 'the restarted miner\'s ledger holds every rental');
    for (const h of held) {
      const freed = await again.call('Allocate', { timeline: 0, checking: false, public_key: h.pem });
      assert.equal(outputOf(freed, second), { status: true, port: h.port });
    }
  } finally {
    await again.close();
  }
  // Released on both hosts: every rental's container is gone; what stays is host a's warm container
  // for the next rental (a remote engine keeps none).
  const left = async (docker: Dockerode) => docker.listContainers({ all: true, filters: { name: [second.namePrefix] } });
  const [leftLocal, leftRemote] = [await left(ctx.local), await left(ctx.remote.docker)];
  assert.equal([...leftLocal, ...leftRemote].filter((c) => lent.has(c.Id)), [], 'released on both hosts');
  assert.is(leftRemote.length, 0, 'nothing of the miner stays on host b');
  assert.ok(leftLocal.length <= 1, `at most host a's warm container stays (${leftLocal.map((c) => c.Names.join()).join(', ')})`);
  assert.is(ledgerContainers(second).size, 0, 'the ledger is empty');
  await kill(second);
});

restart.run();
