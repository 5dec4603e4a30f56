// The rental daemon's keeper: when it restarts (a dead daemon at once, a hung one after a grace
// period), how it backs off a daemon that keeps dying, when a daemon without live restore is
// restarted with it; and the loop around that decision, on a daemon stand-in that dies on cue.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  backoffMs, keepDaemon, keeperDecision, liveRestoreUpgrade, remapSwitch, DEFAULT_KEEPER_POLICY, type KeeperMemory, type KeptDaemon,
} from '../src/host/daemon-keeper.js';
import { parseRentalLayoutOverrides, rentalDockerdArgs, rentalHostLayout, RENTAL_DAEMON_ENV } from '../src/host/rental-dockerd.js';
import { silentLogger } from '../src/log.js';
import { spawnSync } from 'node:child_process';
import { CLI } from './helpers/cli-miner.js';

const P = DEFAULT_KEEPER_POLICY;
const fresh: KeeperMemory = { recentRestarts: 0 };
const dead = { answering: false, processAlive: false };
const hung = { answering: false, processAlive: true };
const up = { answering: true, processAlive: true };

test('a daemon that answers needs nothing; a dead one is restarted at once', () => {
  assert.is(keeperDecision(fresh, up, 1000).action, 'none');
  const d = keeperDecision(fresh, dead, 1000);
  assert.is(d.action, 'restart');
  assert.is(d.action === 'restart' && d.why, 'died');
  assert.equal(d.memory, { downSince: 1000, recentRestarts: 1, lastRestartAt: 1000 });
});

test('a daemon that lives but does not answer is given hungAfterMs, then restarted', () => {
  const first = keeperDecision(fresh, hung, 10_000);
  assert.equal({ action: first.action, until: first.action === 'wait' ? first.until : 0 }, { action: 'wait', until: 10_000 + P.hungAfterMs });
  const still = keeperDecision(first.memory, hung, 10_000 + P.hungAfterMs - 1);
  assert.is(still.action, 'wait');
  const then = keeperDecision(still.memory, hung, 10_000 + P.hungAfterMs);
  assert.is(then.action, 'restart');
  assert.is(then.action === 'restart' && then.why, 'not answering');
  // It answered in between: the grace period starts over.
  const back = keeperDecision(first.memory, up, 12_000);
  assert.is(back.memory.downSince, undefined);
  assert.is(keeperDecision(back.memory, hung, 13_000).action, 'wait');
});

test('backoff: 0, then base, doubling, capped at backoffMaxMs', () => {
  const waits = [0, 1, 2, 3, 4, 10, 100].map((n) => backoffMs(n, P));
  assert.equal(waits, [0, 2000, 4000, 8000, 16_000, P.backoffMaxMs, P.backoffMaxMs]);
});

test('a daemon that keeps dying is restarted less and less often, never in a tight loop', () => {
  let memory = fresh;
  let now = 0;
  const restartsAt: number[] = [];
  // It dies again right after each restart; the keeper looks every intervalMs for 10 minutes.
  for (; now < 10 * 60_000; now += P.intervalMs) {
    const d = keeperDecision(memory, dead, now);
    memory = d.memory;
    if (d.action === 'restart') restartsAt.push(now);
  }
  const gaps = restartsAt.slice(1).map((t, i) => t - restartsAt[i]!);
  assert.ok(restartsAt.length >= 5 && restartsAt.length <= 10, `${restartsAt.length} restarts in 10 minutes`);
  for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! >= gaps[i - 1]!, `gaps grow: ${gaps.join(', ')}`);
  assert.ok(gaps.at(-1)! <= P.backoffMaxMs + P.intervalMs);
  // Stable for stableAfterMs after a restart: the backoff starts over.
  const stable = keeperDecision(memory, up, memory.lastRestartAt! + P.stableAfterMs);
  assert.is(stable.memory.recentRestarts, 0);
  assert.is(keeperDecision(stable.memory, dead, memory.lastRestartAt! + P.stableAfterMs + 1).action, 'restart');
  // Up but not yet stable: the count is kept.
  assert.is(keeperDecision(memory, up, memory.lastRestartAt! + 1000).memory.recentRestarts, memory.recentRestarts);
});

test('a daemon without live restore is restarted with it only when it runs no container', () => {
  assert.is(liveRestoreUpgrade({ liveRestore: true, containersRunning: 3 }), 'none');
  assert.is(liveRestoreUpgrade({ liveRestore: false, containersRunning: 0 }), 'restart');
  assert.is(liveRestoreUpgrade({ liveRestore: false, containersRunning: 1 }), 'keep');
  assert.is(liveRestoreUpgrade({}), 'none');
});

test('a daemon without user namespaces is switched only when it holds no container besides standbys, running or not', () => {
  assert.is(remapSwitch({ remapped: true, containersKept: 3 }), 'none');
  assert.is(remapSwitch({ remapped: false, containersKept: 0 }), 'switch');
  assert.is(remapSwitch({ remapped: false, containersKept: 1 }), 'keep');
  assert.is(remapSwitch({ remapped: false }), 'keep', 'a daemon that does not say what it holds is kept');
  assert.is(remapSwitch({}), 'none');
});

test('the rental daemon remaps users to the rental user, unless its data root still holds containers from before', () => {
  assert.ok(rentalDockerdArgs(rentalHostLayout()).includes('--userns-remap=compute-miner-rental'));
  assert.not.ok(rentalDockerdArgs(rentalHostLayout(), 'full', false).some((a) => a.startsWith('--userns-remap')));
});

test('the rental daemon runs with live restore; a second daemon\'s layout comes from the environment, checked', () => {
  assert.ok(rentalDockerdArgs(rentalHostLayout()).includes('--live-restore'));
  const args = rentalDockerdArgs(rentalHostLayout(), 'simple');
  assert.is(args[args.indexOf('--label') + 1], 'compute-miner.disk-quota=simple', 'the daemon says how its pool counts disk');
  const layout = rentalHostLayout('/tmp/s', undefined, parseRentalLayoutOverrides('{"runDir":"/tmp/r","bridge":"cmk1","bridgeAddress":"10.216.3.1/24","addressPool":"10.219.16.0/20","containerdNamespace":"cm-t"}'));
  assert.equal(
    { socket: layout.socket, execRoot: layout.execRoot, bridge: layout.bridge, pool: layout.addressPool, ns: layout.containerdNamespace, image: layout.pool.image },
    { socket: '/tmp/r/docker.sock', execRoot: '/tmp/r/exec', bridge: 'cmk1', pool: '10.219.16.0/20', ns: 'cm-t', image: '/tmp/s/pool.img' },
  );
  assert.equal(parseRentalLayoutOverrides(undefined), {});
  for (const [text, message] of [
    ['{"runDir":"relative"}', /runDir: runDir must be an absolute path/],
    ['{"bridge":"cmr12345"}', /must not start with cmr/],
    ['{"addressPool":"10.300.0.0/16"}', /out of range/],
    ['{"bridge":"x; rm -rf /"}', /bridge must be/],
    ['{"other":1}', /Unrecognized key/],
    ['nope', /not JSON/],
  ] as const) {
    assert.throws(() => parseRentalLayoutOverrides(text), (e: Error) => e.message.startsWith(`${RENTAL_DAEMON_ENV}: `) && message.test(e.message), text);
  }
});

test('host: a bad COMPUTE_MINER_RENTAL_DAEMON or a misplaced --force is one line, exit 2, and nothing is touched', () => {
  // Only `status` here, which changes nothing: the shared rental daemon is never restarted by a test.
  const bad = spawnSync(process.execPath, [CLI, 'host', 'status'], { env: { ...process.env, [RENTAL_DAEMON_ENV]: '{"bridge":"cmr0"}' }, encoding: 'utf8' });
  assert.is(bad.status, 2);
  assert.is(bad.stderr, `error: ${RENTAL_DAEMON_ENV}: bridge: bridge must not start with cmr (the rental bridges' prefix)\n`);
  const force = spawnSync(process.execPath, [CLI, 'host', 'status', '--force'], { encoding: 'utf8' });
  assert.is(force.status, 2);
  assert.match(force.stderr, /^error: --force goes only with host restart-daemon\n$/);
  const unknown = spawnSync(process.execPath, [CLI, 'host', 'restart'], { encoding: 'utf8' });
  assert.is(unknown.status, 2);
  assert.match(unknown.stderr, /host needs "setup", "status" or "restart-daemon"/);
});

/** A daemon stand-in: `alive` says whether it answers; restart() brings it back after a while. */
function standIn(o: { failRestarts?: number } = {}) {
  let alive = true;
  let failures = o.failRestarts ?? 0;
  const calls = { restarts: 0, reconciles: 0 };
  const daemon: KeptDaemon = {
    endpoint: 'unix:///nowhere',
    ping: async () => alive,
    info: async () => ({ ok: alive, liveRestore: true, containersRunning: 1, remapped: true }),
    processAlive: () => false,
    async restart() {
      calls.restarts++;
      await new Promise((r) => setTimeout(r, 20));
      if (failures-- > 0) throw new Error('did not start');
      alive = true;
    },
  };
  return { daemon, calls, kill: () => { alive = false; } };
}

const waitFor = async (cond: () => boolean, ms = 3000) => {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) throw new Error('timed out');
};

test('the keeper restarts a daemon that died, reconciles, and counts it', async () => {
  const d = standIn();
  const keeper = keepDaemon({ daemon: d.daemon, log: silentLogger(), onRestarted: async () => { d.calls.reconciles++; }, policy: { intervalMs: 20 } });
  try {
    await new Promise((r) => setTimeout(r, 60));
    assert.is(keeper.state().restarts, 0);
    d.kill();
    await waitFor(() => d.calls.reconciles === 1);
    assert.equal({ ...keeper.state(), lastRestartAt: undefined }, { endpoint: 'unix:///nowhere', up: true, restarts: 1, liveRestore: true, remapped: true, lastRestartAt: undefined, downSince: undefined, nextAttemptAt: undefined, lastError: undefined });
  } finally {
    keeper.stop();
  }
});

test('a restart that fails is reported and tried again after the backoff', async () => {
  const d = standIn({ failRestarts: 2 });
  const keeper = keepDaemon({ daemon: d.daemon, log: silentLogger(), onRestarted: async () => { d.calls.reconciles++; }, policy: { intervalMs: 10, backoffBaseMs: 100 } });
  try {
    d.kill();
    await waitFor(() => d.calls.restarts === 1 && !keeper.state().up && keeper.state().lastError !== undefined);
    assert.is(keeper.state().lastError, 'did not start');
    await waitFor(() => keeper.state().nextAttemptAt !== undefined);
    const started = Date.now();
    await waitFor(() => d.calls.reconciles === 1);
    // Second try after 100 ms, third after 200 ms more.
    assert.ok(Date.now() - started >= 150, `waited ${Date.now() - started} ms`);
    assert.is(d.calls.restarts, 3);
    assert.is(keeper.state().up, true);
  } finally {
    keeper.stop();
  }
});

test.run();
