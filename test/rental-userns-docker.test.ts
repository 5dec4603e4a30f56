// Root in a rental is not root on the host: on a private rental daemon (its own pool, paths,
// bridge and namespace; the shared one is never touched), started as the product starts it,
// a container with a rental's containment maps its uid 0 to the rental user's subordinate range,
// a file its root makes in its own layer belongs to that range's first id on the host, and the
// disk quota a claim sets (resize.ts, under `docker info`'s remapped root) holds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { containmentHostConfig, DEFAULT_CONTAINMENT } from '../src/containers/options.js';
import { btrfsSubvolumePath, setDiskQuota } from '../src/containers/resize.js';
import { pingSocket } from '../src/host/daemon-probe.js';
import { ensureRentalUser, RENTAL_USER } from '../src/host/rental-user.js';
import { requireDocker } from './helpers/docker.js';
import { startPrivateRentalDaemon } from './helpers/private-rental-daemon.js';
import { importTinyImage, TINY_SHELL } from './helpers/tiny-image.js';

const MiB = 1024 ** 2;

test('a rental-like container\'s root is the rental user\'s first subordinate id; a claim\'s disk quota holds', async () => {
  const daemon = await startPrivateRentalDaemon(await requireDocker(), []);
  try {
    const range = await ensureRentalUser(RENTAL_USER); // idempotent: the one the daemon uses
    const answer = await pingSocket(daemon.layout.socket, 5000);
    assert.is(answer.remapped, true, 'started with --userns-remap');
    const info = await daemon.docker.info() as { DockerRootDir: string };
    assert.is(info.DockerRootDir, join(daemon.layout.dataRoot, `${range.start}.${range.start}`), 'Docker reports its remapped root');

    importTinyImage(daemon.layout.socket, 'cm-userns-tiny:latest');
    const run = async (cmd: string, extra: object = {}) => daemon.docker.createContainer({
      Image: 'cm-userns-tiny:latest', Cmd: [TINY_SHELL, '-c', cmd], OpenStdin: true, StdinOnce: false,
      HostConfig: { ...containmentHostConfig(DEFAULT_CONTAINMENT), NetworkMode: 'none' }, ...extra,
    });

    const once = await run('cat /proc/self/uid_map; : > /made-by-root');
    await once.start();
    await once.wait();
    const logs = (await once.logs({ stdout: true, stderr: true })).toString('utf8');
    const map = /\s*0\s+(\d+)\s+(\d+)/.exec(logs);
    assert.ok(map, `a uid map in ${JSON.stringify(logs)}`);
    assert.is(Number(map![1]), range.start, 'uid 0 maps to the range\'s first id, not to 0');
    assert.is(Number(map![2]), range.count);
    const mountId = (await readFile(join(info.DockerRootDir, 'image', 'btrfs', 'layerdb', 'mounts', once.id, 'mount-id'), 'utf8')).trim();
    const made = statSync(join(btrfsSubvolumePath(info.DockerRootDir, mountId), 'made-by-root'));
    assert.equal({ uid: made.uid, gid: made.gid }, { uid: range.start, gid: range.start }, 'owned by the remapped root on the host');

    // As a standby is made (its own size) and a claim then sets it: the layer's qgroup under the remapped root.
    const held = await run('read line', { HostConfig: { ...containmentHostConfig(DEFAULT_CONTAINMENT), NetworkMode: 'none', StorageOpt: { size: String(1024 * MiB) } } });
    await held.start();
    await setDiskQuota(info.DockerRootDir, held.id, 48 * MiB);
    const dd = async (mib: number) => {
      const exec = await held.exec({ Cmd: [TINY_SHELL, '-c', `dd if=/dev/zero of=/fill bs=1M count=${mib} conv=fsync 2>&1`], AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({});
      let out = '';
      stream.on('data', (c: Buffer) => { out += c.toString('utf8'); });
      await new Promise((r) => stream.on('end', r));
      return { code: (await exec.inspect()).ExitCode, out };
    };
    assert.is((await dd(16)).code, 0, 'writing within the quota works');
    const beyond = await dd(96);
    assert.is.not(beyond.code, 0, 'writing beyond the quota fails');
    assert.match(beyond.out, /quota|No space/i);
  } finally {
    await daemon.destroy();
  }
});

test.run();
