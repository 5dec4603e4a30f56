// The keeper on a real rental daemon of its own (private pool, paths, bridge, namespace; no
// image, no miner): a daemon that hangs (SIGSTOP) is stopped and started again after the grace
// period, the rentals side is asked to reconcile, and the engine reports it; a daemon started
// without live restore and running nothing is restarted with it. The shared rental daemon is
// never touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { planRentalEngine } from '../src/host/rental-engine.js';
import { pingDaemon, pingSocket, rentalDockerdArgs, rentalDockerdPid, stopRentalDockerd } from '../src/host/rental-dockerd.js';
import { silentLogger } from '../src/log.js';
import { requireDocker } from './helpers/docker.js';
import { PRIVATE_POOL_BYTES, startPrivateRentalDaemon } from './helpers/private-rental-daemon.js';

test('a rental daemon that hangs is restarted after hungAfterMs, reconciled and reported', async () => {
  const daemon = await startPrivateRentalDaemon(await requireDocker(), []);
  const engine = planRentalEngine({ stateDir: daemon.stateDir, poolSizeBytes: PRIVATE_POOL_BYTES, allowUnisolated: false, log: silentLogger(), layout: daemon.layout });
  let hungPid: number | null = null;
  try {
    await engine.prepare();
    assert.is(engine.keepsDaemon, true);
    let reconciled = 0;
    engine.keepAlive(async () => { reconciled++; }, { intervalMs: 250, pingTimeoutMs: 500, hungAfterMs: 3000 });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal({ up: engine.daemonState()?.up, restarts: engine.daemonState()?.restarts, liveRestore: engine.daemonState()?.liveRestore }, { up: true, restarts: 0, liveRestore: true });

    hungPid = rentalDockerdPid(daemon.layout);
    assert.ok(hungPid);
    process.kill(hungPid!, 'SIGSTOP');
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(engine.daemonState()?.up, false, 'reported down while it hangs');
    assert.is(engine.daemonState()?.restarts, 0, 'a live daemon is given its grace period');
    for (; reconciled === 0; await new Promise((r) => setTimeout(r, 100))) assert.ok(Date.now() - stoppedAt < 30_000, 'restarted within 30 s');
    assert.ok(Date.now() - stoppedAt >= 3000, 'not before hungAfterMs');
    assert.ok(await pingDaemon(daemon.layout.socket, 2000));
    const now = rentalDockerdPid(daemon.layout);
    assert.ok(now !== null && now !== hungPid, 'a new daemon');
    assert.equal({ up: engine.daemonState()?.up, restarts: engine.daemonState()?.restarts }, { up: true, restarts: 1 });
    assert.equal(engine.report().daemon?.restarts, 1, '/health reports it');
  } finally {
    engine.close();
    if (hungPid !== null) try { process.kill(hungPid, 'SIGKILL'); } catch { /* gone */ }
    await daemon.destroy();
  }
});

test('a rental daemon started without live restore (an older release) and running no container is restarted with it', async () => {
  const daemon = await startPrivateRentalDaemon(await requireDocker(), []);
  const engine = planRentalEngine({ stateDir: daemon.stateDir, poolSizeBytes: PRIVATE_POOL_BYTES, allowUnisolated: false, log: silentLogger(), layout: daemon.layout });
  try {
    // As an older release started it: the same daemon, without --live-restore.
    await stopRentalDockerd(daemon.layout);
    const log = openSync(daemon.layout.logFile, 'a');
    spawn('dockerd', rentalDockerdArgs(daemon.layout).filter((a) => a !== '--live-restore'), { detached: true, stdio: ['ignore', log, log] }).unref();
    closeSync(log);
    for (const end = Date.now() + 30_000; !(await pingDaemon(daemon.layout.socket, 1000));) {
      assert.ok(Date.now() < end, 'the old-style daemon answers');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.is((await pingSocket(daemon.layout.socket)).liveRestore, false);
    await engine.prepare();
    let reconciled = 0;
    engine.keepAlive(async () => { reconciled++; }, { intervalMs: 250 });
    for (const end = Date.now() + 30_000; reconciled === 0; await new Promise((r) => setTimeout(r, 100))) assert.ok(Date.now() < end, 'restarted within 30 s');
    assert.is((await pingSocket(daemon.layout.socket)).liveRestore, true);
    for (const end = Date.now() + 5000; engine.daemonState()?.liveRestore !== true; await new Promise((r) => setTimeout(r, 100))) {
      assert.ok(Date.now() < end, 'the keeper reports live restore on');
    }
    assert.equal({ restarts: engine.daemonState()?.restarts, up: engine.daemonState()?.up }, { restarts: 1, up: true });
  } finally {
    engine.close();
    await daemon.destroy();
  }
});

test.run();
