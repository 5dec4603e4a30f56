// test-lane: alone
// The miner outlives its rental daemon's faults, on a private rental daemon (own pool, paths,
// bridge and containerd namespace; the shared one is never stopped) under the real CLI miner:
// - killed with SIGKILL under a rental: the miner starts it again within 90 s, the renter's
//   background process started before the crash still runs (live restore), the holder's check
//   is true, release works, a new rental is granted; the restart is in /health and /metrics;
// - restarted on purpose (`host restart-daemon`): the renter's process runs on;
// - a reboot (daemon and containers stopped, pool unmounted, loop device detached, bridges
//   gone, /run emptied): the next miner brings the rental back with its port, password, files.
//   The firewall chains are shared with every other rental here, so they are left in place.
// Most of this file's time is the copy of the 650 MB base image into the private pool.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import type Dockerode from 'dockerode';
import { generateHotkey } from '../protocol/index.js';
import { DEFAULT_BASE_TAG } from '../src/containers/index.js';
import { pingDaemon } from '../src/host/daemon-probe.js';
import { rentalDockerdPid } from '../src/host/rental-dockerd.js';
import { decryptAllocationInfo } from '../src/validator/credentials.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { CLI, cleanupCliMiners, healthy, spawnCliMiner, stopCliMiner, type CliMiner } from './helpers/cli-miner.js';
import { freePorts, renterKeys, requireDocker, sshRun, testRun, type TestRun } from './helpers/docker.js';
import { startPrivateRentalDaemon, type PrivateRentalDaemon } from './helpers/private-rental-daemon.js';

const MiB = 1024 * 1024;
let mark = Date.now();
/** With CM_DEBUG_STDERR, how long each step took. */
const step = (what: string) => {
  if (process.env.CM_DEBUG_STDERR) process.stderr.write(`  ${what}: ${Date.now() - mark} ms\n`);
  mark = Date.now();
};
const device = { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 0 }, gpu: {} };

interface Ctx {
  shared: Dockerode;
  run: TestRun;
  daemon: PrivateRentalDaemon;
  miners: CliMiner[];
  ports: { port: number; sshPort: number };
}
const faults = suite<Ctx>('rental daemon faults');

faults.before(async (ctx) => {
  ctx.shared = await requireDocker();
  ctx.run = testRun(ctx.shared, 'rdf');
  ctx.miners = [];
  const [port, sshPort] = await freePorts(2);
  ctx.ports = { port: port!, sshPort: sshPort! };
  mark = Date.now();
  ctx.daemon = await startPrivateRentalDaemon(ctx.shared, [DEFAULT_BASE_TAG]);
  step('private rental daemon with the base image');
});

faults.after(async (ctx) => {
  mark = Date.now();
  if (ctx.daemon) await cleanupCliMiners(ctx.daemon.docker, ctx.miners).catch(() => undefined);
  step('miners cleaned up');
  await ctx.daemon?.destroy();
  step('private rental daemon destroyed');
  await ctx.run?.cleanup();
});

async function startMiner(ctx: Ctx): Promise<CliMiner> {
  const miner = await spawnCliMiner(ctx.run, 'm', {
    ...ctx.ports,
    // No hashcat: its warm-up's compiler children outlive a stopped miner by half a minute.
    args: ['--allow-any', '--state-dir', ctx.daemon.stateDir, '--pool-size', '4G', '--hashcat-path', '/nonexistent/hashcat'],
    env: ctx.daemon.env,
  });
  ctx.miners.push(miner);
  await healthy(miner, (h) => h.allocation?.baseImage === 'ready', 120_000);
  return miner;
}

const client = (miner: CliMiner) => new Dendrite({ hotkey: generateHotkey(), url: `ws://127.0.0.1:${miner.port}`, timeoutMs: 60_000 });
type Output = { status: boolean; info?: string; port?: number; error?: string };
const output = (reply: { body?: unknown }) => (reply.body as { output: Output }).output;

async function rent(miner: CliMiner): Promise<{ keys: ReturnType<typeof renterKeys>; password: string }> {
  const keys = renterKeys();
  const c = client(miner);
  try {
    const out = output(await c.call('Allocate', { timeline: 1, checking: false, public_key: keys.publicKeyPem, device_requirement: device }));
    assert.ok(out.status, out.error);
    return { keys, password: decryptAllocationInfo(out.info!, keys.privateKeyPem).password };
  } finally {
    await c.close();
  }
}

async function allocate(miner: CliMiner, body: Record<string, unknown>): Promise<Output> {
  const c = client(miner);
  try {
    return output(await c.call('Allocate', body));
  } finally {
    await c.close();
  }
}

/** SSH answers again after the daemon restored the port (docker-proxy comes back with it). */
async function ssh(port: number, password: string, command: string, withinMs = 30_000): Promise<string> {
  const end = Date.now() + withinMs;
  for (;;) {
    try {
      return await sshRun(port, { password }, command, 10_000);
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

faults('rental daemon killed with SIGKILL under a rental: back within 90 s, the renter\'s process lives on, check, release and a new rental work', async (ctx) => {
  const miner = await startMiner(ctx);
  step('miner started');
  const { keys, password } = await rent(miner);
  step('rented');
  const sshPort = ctx.ports.sshPort;
  const pid = (await ssh(sshPort, password, 'nohup sleep 100000 >/dev/null 2>&1 & echo $!')).trim();
  assert.match(pid, /^\d+$/);

  const oldPid = rentalDockerdPid(ctx.daemon.layout);
  ctx.daemon.kill();
  const killedAt = Date.now();
  while (!(await pingDaemon(ctx.daemon.layout.socket, 1000))) {
    assert.ok(Date.now() - killedAt < 90_000, 'the rental daemon answers again within 90 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  step('the rental daemon answered again after SIGKILL');
  assert.is.not(rentalDockerdPid(ctx.daemon.layout), oldPid, 'a new daemon');

  assert.is((await ssh(sshPort, password, `kill -0 ${pid} && echo alive`)).trim(), 'alive', 'the background process outlived the daemon');
  const health = await healthy(miner, (h) => h.docker?.daemon?.restarts >= 1 && h.docker?.reachable === true, 30_000);
  assert.is(health.docker.daemon.up, true);
  step('the renter\'s process lives, /health says so');
  const metrics = await fetch(`http://127.0.0.1:${miner.port}/metrics`).then((r) => r.text());
  assert.match(metrics, /^miner_rental_daemon_restarts_total [1-9]/m);
  assert.match(metrics, /^miner_rental_daemon_up 1/m);

  assert.equal(await allocate(miner, { timeline: 0, checking: true, public_key: keys.publicKeyPem }), { status: true, port: sshPort }, 'holder\'s check');

  // Restarted on purpose, as for an upgrade of Docker: the renter's process runs on.
  const restart = spawnSync(process.execPath, [CLI, 'host', 'restart-daemon', '--state-dir', ctx.daemon.stateDir, '--json'], { env: ctx.daemon.env, encoding: 'utf8', timeout: 120_000 });
  assert.is(restart.status, 0, restart.stderr);
  assert.is(JSON.parse(restart.stdout).daemon.live_restore, true);
  step('host restart-daemon');
  assert.is((await ssh(sshPort, password, `kill -0 ${pid} && echo alive`)).trim(), 'alive', 'the background process outlived the restart on purpose');

  assert.equal(await allocate(miner, { timeline: 0, checking: false, public_key: keys.publicKeyPem }), { status: true, port: sshPort }, 'release');
  step('checked and released');
  const next = await rent(miner);
  assert.equal(await allocate(miner, { timeline: 0, checking: false, public_key: next.keys.publicKeyPem }), { status: true, port: sshPort }, 'the new rental released');
  step('a new rental granted and released');
  // Killed: a miner stopped right after a release lingers up to 30 s (its next standby's start is
  // not cut short), and how it stops is not what this test is about.
  await stopCliMiner(miner, 'SIGKILL');
  step('miner killed');
});

faults('a reboot (daemon and containers stopped, pool unmounted, loop device detached, bridges gone, /run emptied) keeps the rental', async (ctx) => {
  let miner = await startMiner(ctx);
  step('miner started');
  const { keys, password } = await rent(miner);
  const sshPort = ctx.ports.sshPort;
  await ssh(sshPort, password, 'echo "kept across the reboot" > /root/kept');
  step('rented, a file written');
  assert.is(await stopCliMiner(miner), 0);
  step('miner stopped');

  await ctx.daemon.reboot();
  assert.not.ok(await pingDaemon(ctx.daemon.layout.socket, 1000));
  step('rebooted');

  miner = await startMiner(ctx);
  step('miner started after the reboot');
  assert.is((await ssh(sshPort, password, 'cat /root/kept', 60_000)).trim(), 'kept across the reboot', 'the same port, password and files');
  step('the renter logs in and finds the file');
  assert.equal(await allocate(miner, { timeline: 0, checking: true, public_key: keys.publicKeyPem }), { status: true, port: sshPort }, 'holder\'s check');
  assert.equal(await allocate(miner, { timeline: 0, checking: false, public_key: keys.publicKeyPem }), { status: true, port: sshPort }, 'release');
  await stopCliMiner(miner);
});

faults.run();
