// bench base-image: one cold build of the base image on the Debian bookworm root file system,
// as a miner without the PyTorch image makes it (mmdebstrap of DEFAULT_DEBIAN_PACKAGES, import,
// then the base Dockerfile), on the rental Docker daemon. Under its own tags, removed afterwards,
// so it never takes or replaces the images miners and tests use.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_DEBIAN_PACKAGES, ensureBaseImage } from '../src/containers/base-image.js';
import { connectDocker, dockerodeEngine } from '../src/containers/docker.js';
import { rentalHostLayout } from '../src/host/rental-dockerd.js';
import pino from 'pino';
import { registerBench } from './registry.js';
import { writeSection } from './results.js';

registerBench('base-image', async () => {
  const socket = process.env.DOCKER_SOCKET ?? rentalHostLayout().socket;
  const engine = dockerodeEngine(connectDocker(socket));
  const id = randomBytes(4).toString('hex');
  const tag = `cm-bench-base-${id}:latest`;
  const rootfsTag = `cm-bench-rootfs-${id}:bookworm`;
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-bench-base-'));
  const phases: Record<string, number> = {};
  const started = performance.now();
  // The build's own log lines, on stderr; "building X on Y" marks the root file system done.
  const log = pino({ level: 'info', base: undefined }, {
    write(line: string) {
      process.stderr.write(line);
      if (phases.rootfs === undefined && /"msg":"building /.test(line)) phases.rootfs = performance.now() - started;
    },
  });
  try {
    // A FROM that is neither local nor pullable: the build goes the Debian root file system way.
    await ensureBaseImage(engine, {
      from: `cm-bench-none-${id}/none:0`, tag, rootfsTag, pullTimeoutMs: 5_000, dataDir,
      log,
    });
    const total = performance.now() - started;
    const bytes = await engine.imageSize(tag);
    const s = (ms: number) => (ms / 1000).toFixed(1);
    process.stdout.write(`root file system ${s(phases.rootfs ?? NaN)} s, total ${s(total)} s, image ${(bytes / 1024 ** 2).toFixed(0)} MiB\n`);
    writeSection('base-image', `
Cold build of \`ssh-image-base\` on the Debian bookworm root file system (no image cache, packages
from the Debian archive), on the rental Docker daemon (\`${socket}\`).

| packages | root file system (mmdebstrap + import) | whole build | image size |
|---|---|---|---|
| ${DEFAULT_DEBIAN_PACKAGES.join(', ')} | ${s(phases.rootfs ?? NaN)} s | ${s(total)} s | ${(bytes / 1024 ** 2).toFixed(0)} MiB |

For comparison, the recipe before the renter's tools (openssh-server, python3, python3-pip,
python3-venv, ca-certificates, procps, curl) measured on the same machine on 2026-12-02, the
same way by hand (mmdebstrap | docker import, then docker build): 82.2 s + 17.5 s = 99.7 s, 254 MB.
Other builds and tests shared the 2 cores during both runs.

Command: \`npm run bench -- base-image\`
`);
  } finally {
    await engine.removeImage(tag).catch(() => undefined);
    await engine.removeImage(rootfsTag).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
