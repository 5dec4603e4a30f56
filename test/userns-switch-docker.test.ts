// The switch of a rental daemon started without user namespaces (an older release), on private
// rental daemons (their own pool, paths, bridge and namespace; the shared one is never touched):
// one that holds nothing but a standby is switched by the keeper, its standby and network gone
// and its base image carried over; one that holds a rental is left as it is (a log line says why),
// started again as it was when it dies, and switched once the rental is gone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABELS, standbyName } from '../src/containers/names.js';
import { pingDaemon, pingSocket } from '../src/host/daemon-probe.js';
import { planRentalEngine } from '../src/host/rental-engine.js';
import { rentalDockerdArgs, stopRentalDockerd } from '../src/host/rental-dockerd.js';
import { carryFile } from '../src/host/userns-switch.js';
import { createLogger } from '../src/log.js';
import { requireDocker } from './helpers/docker.js';
import { PRIVATE_POOL_BYTES, startPrivateRentalDaemon, type PrivateRentalDaemon } from './helpers/private-rental-daemon.js';
import { importTinyImage, TINY_SHELL } from './helpers/tiny-image.js';

const FAST = { intervalMs: 250, pingTimeoutMs: 1000, liveRestoreCheckMs: 500 };
const BASE = 'ssh-image-base:latest';

const until = async (cond: () => boolean | Promise<boolean>, what: string, ms: number) => {
  for (const end = Date.now() + ms; !(await cond()); await new Promise((r) => setTimeout(r, 100))) assert.ok(Date.now() < end, what);
};

/** The private daemon as a release before --userns-remap started it, with the base image and a standby on its own network. */
async function oldStyleDaemon(daemon: PrivateRentalDaemon, prefix: string): Promise<void> {
  await stopRentalDockerd(daemon.layout);
  const log = openSync(daemon.layout.logFile, 'a');
  spawn('dockerd', rentalDockerdArgs(daemon.layout, 'full', false), { detached: true, stdio: ['ignore', log, log] }).unref();
  closeSync(log);
  await until(() => pingDaemon(daemon.layout.socket, 1000), 'the old-style daemon answers', 30_000);
  assert.is((await pingSocket(daemon.layout.socket)).remapped, false);
  importTinyImage(daemon.layout.socket, BASE, { [LABELS.kind]: 'base' });
  await daemon.docker.createNetwork({ Name: `${prefix}cm-net-0`, Labels: { [LABELS.kind]: 'network' } });
  await start(daemon, standbyName(prefix), `${prefix}cm-net-0`);
}

async function start(daemon: PrivateRentalDaemon, name: string, network = 'none'): Promise<void> {
  const c = await daemon.docker.createContainer({ name, Image: BASE, Cmd: [TINY_SHELL, '-c', 'read line'], OpenStdin: true, HostConfig: { NetworkMode: network } });
  await c.start();
}

function engineOn(daemon: PrivateRentalDaemon) {
  const logFile = join(daemon.stateDir, 'miner.log');
  const engine = planRentalEngine({ stateDir: daemon.stateDir, poolSizeBytes: PRIVATE_POOL_BYTES, allowUnisolated: false, log: createLogger({ file: logFile }), layout: daemon.layout });
  return { engine, logged: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') };
}

test('a daemon without user namespaces and only a standby is switched; its base image is carried over', async () => {
  const daemon = await startPrivateRentalDaemon(await requireDocker(), []);
  const { engine } = engineOn(daemon);
  try {
    const prefix = `t-usw-${daemon.id}-`;
    await oldStyleDaemon(daemon, prefix);
    await engine.prepare();
    let reconciled = 0;
    engine.keepAlive(async () => { reconciled++; }, FAST);
    await until(() => reconciled === 1, 'switched within 45 s', 45_000);
    const after = await pingSocket(daemon.layout.socket);
    assert.equal({ remapped: after.remapped, liveRestore: after.liveRestore }, { remapped: true, liveRestore: true });
    await until(() => engine.daemonState()?.remapped === true, 'the keeper reports it remapped', 5000);
    const image = await daemon.docker.getImage(BASE).inspect();
    assert.is(image.Config.Labels?.[LABELS.kind], 'base', 'the base image is carried over, labels and all');
    assert.equal(await daemon.docker.listContainers({ all: true }), [], 'the old standby is not carried');
    assert.is(existsSync(carryFile(daemon.layout)), false, 'the saved images are removed');
    assert.equal(readdirSync(join(daemon.layout.dataRoot, 'containers')), [], 'the old root holds no container');
    assert.is(readdirSync(join(daemon.layout.dataRoot, 'btrfs', 'subvolumes')).length, 0, 'nor image layers');
  } finally {
    engine.close();
    await daemon.destroy();
  }
});

test('a daemon without user namespaces that holds a rental is kept (also through a crash) and switched once it is gone', async () => {
  const daemon = await startPrivateRentalDaemon(await requireDocker(), []);
  const { engine, logged } = engineOn(daemon);
  try {
    const prefix = `t-usw-${daemon.id}-`;
    await oldStyleDaemon(daemon, prefix);
    await start(daemon, `${prefix}ssh-container-1`);
    await engine.prepare();
    let reconciled = 0;
    engine.keepAlive(async () => { reconciled++; }, FAST);
    await until(() => /without user namespaces.*holds containers besides standbys/.test(logged()), 'the log says why it is kept', 10_000);
    await new Promise((r) => setTimeout(r, 1500)); // three more looks
    assert.is((await pingSocket(daemon.layout.socket)).remapped, false, 'not switched while a rental exists');
    assert.is(engine.daemonState()?.remapped, false, 'reported without user namespaces');

    daemon.kill();
    await until(() => reconciled === 1, 'started again after the crash', 30_000);
    assert.is((await pingSocket(daemon.layout.socket)).remapped, false, 'started again as it was: its rental is still seen');
    assert.is((await daemon.docker.listContainers({ all: true })).filter((c) => c.Names.includes(`/${prefix}ssh-container-1`)).length, 1);

    await daemon.docker.getContainer(`${prefix}ssh-container-1`).remove({ force: true });
    await until(() => reconciled === 2, 'switched once the rental is gone', 45_000);
    assert.is((await pingSocket(daemon.layout.socket)).remapped, true);
    assert.ok(await daemon.docker.getImage(BASE).inspect(), 'the base image is there');
  } finally {
    engine.close();
    await daemon.destroy();
  }
});

test.run();
