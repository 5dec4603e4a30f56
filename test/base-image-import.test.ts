// The base image's root file system comes from mmdebstrap streamed into `docker import`. When
// the import fails (here: a client whose connect timer cuts the upload, as one with a connect
// timeout does), mmdebstrap and everything it started are ended too, not left writing into a
// pipe nobody reads. A stand-in mmdebstrap on PATH streams without end and records its pids.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Dockerode from 'dockerode';
import { ensureBaseImage } from '../src/containers/base-image.js';
import { dockerodeEngine } from '../src/containers/docker.js';
import { silentLogger } from '../src/log.js';
import { requireDocker, RENTAL_SOCKET } from './helpers/docker.js';
import { until } from './helpers/wait.js';

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('an import cut off ends mmdebstrap and its children; no image is left', async () => {
  const docker = await requireDocker();
  const dir = mkdtempSync(join(tmpdir(), 'cm-import-'));
  const pids = join(dir, 'pids');
  const id = randomBytes(4).toString('hex');
  const rootfs = `cm-test-rootfs-${id}:x`;
  writeFileSync(join(dir, 'mmdebstrap'), `#!/bin/sh\necho $$ > ${pids}\nsleep 300 &\necho $! >> ${pids}\nwhile :; do head -c 1048576 /dev/zero; done\n`);
  chmodSync(join(dir, 'mmdebstrap'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir}:${path}`;
  try {
    // The same engine through a client whose connect timer (300 ms) runs until the answer begins.
    const cutting = dockerodeEngine(new Dockerode({ socketPath: RENTAL_SOCKET, connectionTimeout: 300 } as Dockerode.DockerOptions));
    const err = await ensureBaseImage(cutting, {
      from: `cm-test-absent-${id}:x`, tag: `cm-test-base-${id}:x`, rootfsTag: rootfs, pullTimeoutMs: 2000, dataDir: dir, log: silentLogger(),
    }).then(() => null, (e: unknown) => e as Error);
    assert.ok(err, 'the cut import fails the build');
    const [shell, sleeper] = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    assert.ok(shell && sleeper);
    await until('mmdebstrap and its child ended', async () => !alive(shell!) && !alive(sleeper!), 5000);
    const left = await docker.listImages({ filters: { reference: [`cm-test-rootfs-${id}`, `cm-test-base-${id}`] } });
    assert.is(left.length, 0);
  } finally {
    process.env.PATH = path;
    const text = (() => { try { return readFileSync(pids, 'utf8'); } catch { return ''; } })();
    for (const pid of text.trim().split('\n').map(Number).filter(Boolean)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    for (const img of await docker.listImages({ filters: { reference: [`cm-test-rootfs-${id}`] } })) await docker.getImage(img.Id).remove({ force: true }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
