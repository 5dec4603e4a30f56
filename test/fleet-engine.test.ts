// Engine clients against a real private dockerd listening on tcp://127.0.0.1 with mutual TLS
// (certificates made here with openssl) and on its own unix socket: the right certificates ping
// and list; a client certificate of another CA, a wrong CA, a missing file and plain TCP each
// fail with one clear line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import tar from 'tar-stream';
import { engineClient, EngineError, pingEngine } from '../src/fleet/engine.js';
import { ensureImage, ImageCopyError } from '../src/fleet/image-copy.js';
import { countEngineGpus } from '../src/fleet/engine-gpus.js';
import { parseHostsText, type HostEntry } from '../src/fleet/hosts-file.js';
import { freePort, requireDocker, RUN_LABEL } from './helpers/docker.js';
import { makeTlsSet, type TlsSet } from './helpers/tls-certs.js';
import { startTlsDockerd, type TlsDockerd } from './helpers/tls-dockerd.js';

const id = `eng${randomBytes(3).toString('hex')}`;
const scratch = mkdtempSync(join(tmpdir(), `cm-fleet-engine-${id}-`));
let dockerd: TlsDockerd | undefined;
let stranger: TlsSet;

test.before(async () => {
  dockerd = await startTlsDockerd(mkdtempSync(join(tmpdir(), `cm-dockerd-${id}-`)), id);
  stranger = makeTlsSet(join(scratch, 'stranger'), 'stranger');
});

test.after(async () => {
  await dockerd?.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

/** A host entry as the hosts file gives it. */
function entry(fields: Record<string, unknown>): HostEntry {
  const text = JSON.stringify({ hosts: [{ name: 'h', address: '127.0.0.1', ssh_bind: '127.0.0.1', ssh_ports: '4444', ...fields }] });
  return parseHostsText(text, { source: 'hosts.json', baseDir: scratch })[0]!;
}

const tlsOf = (set: TlsSet, over: Partial<{ ca: string; cert: string; key: string }> = {}) => ({ ca: set.ca, cert: set.clientCert, key: set.clientKey, ...over });

/** The EngineError a ping fails with; fails the test when the ping succeeds. */
async function pingFailure(docker: Dockerode, host: HostEntry): Promise<EngineError> {
  try {
    await pingEngine(docker, host, 5000);
  } catch (err) {
    assert.instance(err, EngineError);
    const message = (err as Error).message;
    assert.not.match(message, /\n\s+at /, 'one line, no stack');
    return err as EngineError;
  }
  assert.unreachable('the ping succeeded');
  throw new Error('unreachable');
}

test('mutual TLS: ping, version and container list over tcp://127.0.0.1 with the right certificates', async () => {
  const host = entry({ engine: dockerd!.engine, tls: tlsOf(dockerd!.tls) });
  const docker = engineClient(host);
  await pingEngine(docker, host);
  const version = await docker.version();
  assert.type(version.Version, 'string');
  assert.ok(Array.isArray(await docker.listContainers({ all: true })));
  // The same daemon through its own unix socket: both kinds of engine reach it.
  const local = entry({ engine: `unix://${dockerd!.socket}` });
  await pingEngine(engineClient(local), local);
});

test('a client certificate from another CA is refused by the engine, and said so', async () => {
  const host = entry({ engine: dockerd!.engine, tls: tlsOf(dockerd!.tls, { cert: stranger.clientCert, key: stranger.clientKey }) });
  const err = await pingFailure(engineClient(host), host);
  assert.match(err.message, /^host h: the engine at tcp:\/\/127\.0\.0\.1:\d+ refused our client certificate/);
});

test('a server certificate our CA did not sign (wrong tls.ca) is refused, and said so', async () => {
  const host = entry({ engine: dockerd!.engine, tls: tlsOf(dockerd!.tls, { ca: stranger.ca }) });
  const err = await pingFailure(engineClient(host), host);
  assert.match(err.message, /^host h: the engine's server certificate at tcp:\/\/127\.0\.0\.1:\d+ is not signed by the CA in tls\.ca \(wrong CA\?\)$/);
});

test('a missing TLS file is a clear error before any connection', () => {
  const gone = join(scratch, 'gone-key.pem');
  const host = entry({ engine: dockerd!.engine, tls: tlsOf(dockerd!.tls, { key: gone }) });
  assert.throws(() => engineClient(host), (err: unknown) => err instanceof EngineError && err.message === `host h: tls.key: cannot read ${gone}: no such file` && err.code === 'TLS_FILE');
});

test('plain TCP: refused unless the entry explicitly allows it; allowed against a TLS engine, the answer says it expects TLS', async () => {
  const allowed = entry({ engine: dockerd!.engine, insecure_plain_tcp: true });
  assert.throws(() => engineClient({ ...allowed, insecurePlainTcp: false }), (err: unknown) => err instanceof EngineError && /refusing plain TCP/.test(err.message) && err.code === 'PLAIN_TCP');
  const err = await pingFailure(engineClient(allowed), allowed);
  assert.match(err.message, /^host h: tcp:\/\/127\.0\.0\.1:\d+ expects TLS: give the host "tls"/);
});

test('an engine that is not there: nothing on the port, no socket', async () => {
  const closed = entry({ engine: `tcp://127.0.0.1:${await freePort()}`, tls: tlsOf(dockerd!.tls) });
  assert.match((await pingFailure(engineClient(closed), closed)).message, /^host h: nothing listens on tcp:\/\/127\.0\.0\.1:\d+ \(engine down\?\)$/);
  const socket = join(scratch, 'no.sock');
  const missing = entry({ engine: `unix://${socket}` });
  assert.is((await pingFailure(engineClient(missing), missing)).message, `host h: no Docker socket at ${socket} (engine down?)`);
});

test('an image made ready on the TLS engine from the local one through the engine API: same id, sent once', async () => {
  const shared = await requireDocker();
  const ref = `cm-fleet-copy-${id}:1`;
  const host = entry({ engine: dockerd!.engine, tls: tlsOf(dockerd!.tls) });
  const remote = engineClient(host);
  try {
    const pack = tar.pack();
    pack.entry({ name: 'hello.txt' }, `image of run ${id}\n`);
    pack.finalize();
    const imported = await shared.importImage(pack, { repo: `cm-fleet-copy-${id}`, tag: '1', changes: [`LABEL ${RUN_LABEL}=${id}`] } as object);
    await new Promise<void>((resolve, reject) => shared.modem.followProgress(imported, (err: Error | null) => (err ? reject(err) : resolve())));
    const sourceId = (await shared.getImage(ref).inspect()).Id;
    assert.is(await ensureImage(shared, remote, ref), 'copied');
    assert.is((await remote.getImage(ref).inspect()).Id, sourceId);
    assert.is(await ensureImage(shared, remote, ref), 'present');
    // The remote engine's GPUs, through its API: this engine has no NVIDIA toolkit, so none, and why.
    const gpus = await countEngineGpus(remote, ref, { [RUN_LABEL]: id });
    assert.is(gpus.count, 0);
    assert.match(gpus.reason ?? '', /could not select device driver "nvidia"/);
    assert.is((await remote.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${id}`] } })).length, 0, 'the probe container is removed');
    try {
      await ensureImage(shared, remote, `cm-fleet-absent-${id}:1`);
      assert.unreachable('an absent image was copied');
    } catch (err) {
      assert.instance(err, ImageCopyError);
      assert.is((err as Error).message, `image cm-fleet-absent-${id}:1: not on the source engine`);
    }
  } finally {
    await shared.getImage(ref).remove({ force: true }).catch(() => undefined);
    await remote.getImage(ref).remove({ force: true }).catch(() => undefined);
  }
});

test('an engine killed and started again: down is reported, then it answers over TLS again', async () => {
  const host = entry({ engine: dockerd!.engine, tls: tlsOf(dockerd!.tls) });
  const docker = engineClient(host);
  await dockerd!.kill();
  assert.match((await pingFailure(docker, host)).message, /nothing listens on/);
  await dockerd!.restart();
  await pingEngine(docker, host);
});

test.run();
