// The keeper on a real rental daemon of its own (private pool, paths, bridge, namespace; no
// image, no miner; the shared rental daemon is never touched): a daemon started without live
// restore (an older release) and running nothing is restarted with it; a daemon that hangs
// (SIGSTOP) is stopped and started again after the grace period; each time the rentals side is
// asked to reconcile and the engine reports it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { planRentalEngine } from '../src/host/rental-engine.js';
import { pingDaemon, pingSocket } from '../src/host/daemon-probe.js';
import { rentalDockerdArgs, rentalDockerdPid, stopRentalDockerd } from '../src/host/rental-dockerd.js';
import { silentLogger } from '../src/log.js';
import { requireDocker } from './helpers/docker.js';
import { PRIVATE_POOL_BYTES, startPrivateRentalDaemon } from './helpers/private-rental-daemon.js';

const until = async (cond: () => boolean | Promise<boolean>, what: string, ms: number) => {
  for (const end = Date.now() + ms; !(await cond()); await new Promise((r) => setTimeout(r, 100))) assert.ok(Date.now() < end, what);
};

test('a daemon without live restore is restarted with it; a hung one after hungAfterMs; both reconciled and reported', async () => {
  const daemon = await startPrivateRentalDaemon(await requireDocker(), []);
  const engine = planRentalEngine({ stateDir: daemon.stateDir, poolSizeBytes: PRIVATE_POOL_BYTES, allowUnisolated: false, log: silentLogger(), layout: daemon.layout });
  let hungPid: number | null = null;
  try {
    // As an older release started it: the same daemon, without --live-restore.
    await stopRentalDockerd(daemon.layout);
    const log = openSync(daemon.layout.logFile, 'a');
    spawn('dockerd', rentalDockerdArgs(daemon.layout).filter((a) => a !== '--live-restore'), { detached: true, stdio: ['ignore', log, log] }).unref();
    closeSync(log);
    await until(() => pingDaemon(daemon.layout.socket, 1000), 'the old-style daemon answers', 30_000);
    assert.is((await pingSocket(daemon.layout.socket)).liveRestore, false);

    await engine.prepare();
    assert.is(engine.keepsDaemon, true);
    let reconciled = 0;
    engine.keepAlive(async () => { reconciled++; }, { intervalMs: 250, pingTimeoutMs: 500, hungAfterMs: 3000 });
    await until(() => reconciled === 1, 'restarted with live restore within 30 s', 30_000);
    assert.is((await pingSocket(daemon.layout.socket)).liveRestore, true);
    await until(() => engine.daemonState()?.liveRestore === true, 'the keeper reports live restore on', 5000);
    assert.equal({ restarts: engine.daemonState()?.restarts, up: engine.daemonState()?.up }, { restarts: 1, up: true });

    hungPid = rentalDockerdPid(daemon.layout);
    assert.ok(hungPid);
    process.kill(hungPid!, 'SIGSTOP');
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(engine.daemonState()?.up, false, 'reported down while it hangs');
    assert.is(engine.daemonState()?.restarts, 1, 'a live daemon is given its grace period');
    await until(() => reconciled === 2, 'a hung daemon is restarted within 30 s', 30_000);
    assert.ok(Date.now() - stoppedAt >= 3000, 'not before hungAfterMs');
    assert.ok(await pingDaemon(daemon.layout.socket, 2000));
    const now = rentalDockerdPid(daemon.layout);
    assert.ok(now !== null && now !== hungPid, 'a new daemon');
    assert.equal({ up: engine.daemonState()?.up, restarts: engine.daemonState()?.restarts }, { up: true, restarts: 2 });
    assert.is(engine.report().daemon?.restarts, 2, '/health reports it');
  } finally {
    engine.close();
    if (hungPid !== null) try { process.kill(hungPid, 'SIGKILL'); } catch { /* gone */ }
    await daemon.destroy();
  }
});

test.run();
