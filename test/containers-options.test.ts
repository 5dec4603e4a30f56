// The pure parts of the container manager: request → Docker create options, resource checks,
// cpusets, shm size, storage policy, renter Dockerfiles, authorized_keys blocks, passwords,
// holder comparison, the expiry timer and the atomic allocation store.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  containerCreateOptions, pickCpuset, renterDockerfile, resourceProblem, shmSizeBytes, storagePolicy, requestedGpus,
  containmentProblem, DEFAULT_CONTAINMENT, rentalNetworkOptions, RENTAL_CAPABILITIES, storageSizeBytes,
  type ContainerPlan, type HostResources, type DeviceRequirement,
} from '../src/containers/options.js';
import { rentalHealth } from '../src/containers/health.js';
import { btrfsQuotaFilePath, btrfsSubvolumePath } from '../src/containers/resize.js';
import { authorizedKeysFile, authorizedKeysText, credentialsPayload, exchangeKey, generatePassword } from '../src/containers/secrets.js';
import { randomSalt, sha512Crypt } from '../src/containers/shadow.js';
import { packFiles } from '../src/containers/archive.js';
import tar from 'tar-stream';
import { execFileSync } from 'node:child_process';
import { holderDigest, sameHolder, storedHolderDigest } from '../src/rentals/holder.js';
import { createExpiryScheduler, MAX_TIMER_MS } from '../src/containers/scheduler.js';
import { allocationStore, HOLDER_KEY_FILE, RECORD_FILE, type AllocationRecord } from '../src/containers/store.js';
import { serializer } from '../src/serial.js';
import { baseDockerfile, recipeDigest, START_SSHD, SSHD_CONFIG } from '../src/containers/base-image.js';
import { probeAddress } from '../src/containers/ssh-ready.js';
import { rentalSeccompProfile } from '../src/containers/seccomp.js';

const GiB = 1024 ** 3;
const host = (over: Partial<HostResources> = {}): HostResources => ({
  cpuCount: 2, availableMemoryBytes: 8 * GiB, freeDiskBytes: 100 * GiB, gpuCount: 0, storage: { enforced: false, reason: 'r' }, totalMemoryBytes: 16 * GiB, totalDiskBytes: 200 * GiB, ...over,
});
const device = (over: Partial<DeviceRequirement> = {}): DeviceRequirement => ({
  cpu: { count: 1 }, ram: { capacity: GiB }, hard_disk: { capacity: 10 * GiB }, gpu: {}, testing: false, ...over,
});
const plan = (over: Partial<ContainerPlan> = {}): ContainerPlan => ({
  name: 'p-ssh-container', image: 'ssh-image-base:latest', labels: { 'compute-miner.owner': '5Abc' }, cpuset: '0-1',
  memoryBytes: 2 * GiB, shmBytes: GiB, diskBytes: null, gpus: 0, sshBind: '127.0.0.1', sshPort: 4444, restartRetries: 5,
  network: 'p-cm-net-0a1b2c3d', containment: DEFAULT_CONTAINMENT, ...over,
});

test('containerCreateOptions: cpuset, memory without swap, shm, init, restart on failure, SSH published on the bind address', () => {
  const o = containerCreateOptions(plan());
  assert.is(o.name, 'p-ssh-container');
  assert.is(o.Image, 'ssh-image-base:latest');
  assert.equal(o.Labels, {
    'compute-miner.owner': '5Abc',
    'compute-miner.limits': '{"setAt":"create","cpuset":"0-1","memoryBytes":2147483648,"shmBytes":1073741824,"diskBytes":null,"io":null}',
  });
  assert.equal(o.ExposedPorts, { '22/tcp': {} });
  const h = o.HostConfig!;
  assert.is(h.CpusetCpus, '0-1');
  assert.is(h.Memory, 2 * GiB);
  assert.is(h.MemorySwap, 2 * GiB);
  assert.is(h.ShmSize, GiB);
  assert.is(h.Init, true);
  assert.equal(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 5 });
  assert.equal(h.PortBindings, { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '4444' }] });
  assert.is(h.StorageOpt, undefined);
  assert.is(h.DeviceRequests, undefined);
  // No secret-bearing fields at all: credentials go in by exec after start.
  assert.is(o.Env, undefined);
  assert.is(o.Cmd, undefined);
  assert.is(o.OpenStdin, true);
  assert.is(o.StdinOnce, true);
});

test('containerCreateOptions: storage size only when enforced; NVIDIA device requests by count or -1 for all', () => {
  assert.equal(containerCreateOptions(plan({ diskBytes: 10 * GiB })).HostConfig!.StorageOpt, { size: String(10 * GiB) });
  assert.equal(containerCreateOptions(plan({ gpus: 2 })).HostConfig!.DeviceRequests, [{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }]);
  assert.equal(containerCreateOptions(plan({ gpus: 'all' })).HostConfig!.DeviceRequests, [{ Driver: 'nvidia', Count: -1, Capabilities: [['gpu']] }]);
});

test('storagePolicy: overlay2 on extfs is reported as not enforced; xfs, btrfs, zfs are enforced', () => {
  const ext = storagePolicy({ Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true']] });
  assert.is(ext.enforced, false);
  assert.match(ext.reason ?? '', /storage limit not enforced: the overlay2 driver on extfs/);
  assert.is(storagePolicy({ Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'xfs']] }).enforced, true);
  assert.is(storagePolicy({ Driver: 'btrfs', DriverStatus: [] }).enforced, true);
  // How the rental daemon's pool counts disk: full qgroups count the image, simple quotas do not.
  assert.is(storagePolicy({ Driver: 'btrfs', DriverStatus: [] }).countsImage, true);
  assert.is(storagePolicy({ Driver: 'btrfs', Labels: ['compute-miner.disk-quota=full'] }).countsImage, true);
  assert.is(storagePolicy({ Driver: 'btrfs', Labels: ['x=y', 'compute-miner.disk-quota=simple'] }).countsImage, false);
  assert.is(storagePolicy({ Driver: 'zfs' }).enforced, true);
  assert.is(storagePolicy({ Driver: 'vfs', DriverStatus: null }).enforced, false);
});

test('resourceProblem: more cores, memory or disk than the host has; GPUs on a host without', () => {
  assert.is(resourceProblem(device(), host()), null);
  assert.match(resourceProblem(device({ cpu: { count: 3 } }), host()) ?? '', /^insufficient CPU: 3 cores requested, this host has 2/);
  assert.match(resourceProblem(device({ ram: { capacity: 9 * GiB } }), host()) ?? '', /^insufficient memory/);
  assert.match(resourceProblem(device({ hard_disk: { capacity: 101 * GiB } }), host()) ?? '', /^insufficient disk/);
  assert.match(resourceProblem(device({ gpu: { count: 1 } }), host()) ?? '', /^no GPU on this host/);
  assert.match(resourceProblem(device({ gpu: { count: 'all' } }), host()) ?? '', /^no GPU on this host/);
  assert.is(resourceProblem(device({ gpu: { count: 0 } }), host()), null);
  assert.is(resourceProblem(device({ gpu: { count: 2 } }), host({ gpuCount: 2 })), null);
  assert.match(resourceProblem(device({ gpu: { count: 3 } }), host({ gpuCount: 2 })) ?? '', /^insufficient GPU: 3 requested/);
  assert.is(requestedGpus(device({ gpu: {} })), 0);
});

test('pickCpuset: the lowest free cores as ranges; null when too few', () => {
  assert.is(pickCpuset(4, 2), '0-1');
  assert.is(pickCpuset(8, 4, [1, 2]), '0,3-5');
  assert.is(pickCpuset(2, 2), '0-1');
  assert.is(pickCpuset(2, 1), '0');
  assert.is(pickCpuset(2, 3), null);
  assert.is(pickCpuset(4, 2, [0, 1, 2]), null);
  assert.is(pickCpuset(4, 0), null);
});

test('shmSizeBytes: 90% of available memory, capped by the memory limit and the cap', () => {
  assert.is(shmSizeBytes(10 * GiB, 20 * GiB, 64 * GiB), Math.floor(9 * GiB));
  assert.is(shmSizeBytes(10 * GiB, 2 * GiB, 64 * GiB), 2 * GiB);
  assert.is(shmSizeBytes(100 * GiB, 200 * GiB, 16 * GiB), 16 * GiB);
});

test('renterDockerfile: RUN/ENV/WORKDIR on top of the base; FROM, USER, CMD, LABEL refused', () => {
  const ok = renterDockerfile('ssh-image-base:latest', 'RUN pip install numpy\n\n# comment\nENV A=1\nWORKDIR /root\nRUN apt-get update && \\\n    true');
  assert.ok(ok.ok);
  // RUN lines are steps of their own, each run with the rental's capabilities (dockerfile.test.ts).
  if (ok.ok) {
    const lines = ok.text.split('\n').filter((l) => /^[A-Z]+ /.test(l)).map((l) => l.split(' ')[0]);
    assert.equal(lines, ['FROM', 'RUN', 'ENV', 'WORKDIR', 'RUN']);
    assert.is(ok.text.match(/setpriv --bounding-set=-all,/g)?.length, 2);
  }
  for (const bad of ['FROM ubuntu', 'USER nobody', 'CMD ["sleep","1"]', 'ENTRYPOINT x', 'LABEL compute-miner.owner=x', 'run ok\nCOPY / /x']) {
    const r = renterDockerfile('b', bad);
    assert.is(r.ok, false, bad);
    if (!r.ok) assert.match(r.error, /is not allowed \(only RUN, ENV, WORKDIR\)/);
  }
  const dangling = renterDockerfile('b', 'RUN a \\');
  assert.is(dangling.ok, false);
});

test('authorized_keys: a user block and a terminal block; exchanging one keeps the other', () => {
  const user = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIuser renter';
  const terminal = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIterm validator';
  const keys = exchangeKey({ user }, 'terminal', terminal);
  const text = authorizedKeysText(keys);
  assert.ok(text.includes(user) && text.includes(terminal));
  assert.ok(text.indexOf('user key') < text.indexOf(user) && text.indexOf(user) < text.indexOf('terminal key'));
  const swapped = authorizedKeysText(exchangeKey(keys, 'user', 'ssh-ed25519 AAAAnew new'));
  assert.ok(!swapped.includes(user));
  assert.ok(swapped.includes('ssh-ed25519 AAAAnew new') && swapped.includes(terminal));
  assert.is(authorizedKeysText({}).split('\n').filter((l) => l && !l.startsWith('#')).length, 0);
});

test('sha512Crypt: the specification\'s vectors and openssl passwd -6 agree', () => {
  assert.is(sha512Crypt('Hello world!', 'saltstring'), '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1');
  assert.is(sha512Crypt('Hello world!', 'saltstringsaltst', 10000), '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.');
  for (let i = 0; i < 5; i++) {
    const password = generatePassword(20 + i * 7);
    const salt = randomSalt();
    const reference = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: password }).toString().trim();
    assert.is(sha512Crypt(password, salt), reference);
  }
  assert.throws(() => sha512Crypt('x', 'bad salt!'), /salt/);
});

test('credentials payload: the password only as a SHA-512-crypt hash, the motd as one base64 line, then authorized_keys; keys file 0600 root', () => {
  const motd = 'Rental\n  cores: 1\n  (two lines and a \'quote\')\n';
  const payload = credentialsPayload('the-password-is-long-enough', { user: 'ssh-ed25519 AAAA u' }, motd);
  assert.not.ok(payload.includes('the-password-is-long-enough'));
  const [hash, motdLine, ...rest] = payload.split('\n');
  assert.match(hash!, /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  assert.is(sha512Crypt('the-password-is-long-enough', hash!.split('$')[2]!), hash);
  assert.match(motdLine!, /^[A-Za-z0-9+/]+={0,2}$/);
  assert.is(Buffer.from(motdLine!, 'base64').toString('utf8'), motd);
  assert.is(rest.join('\n'), authorizedKeysText({ user: 'ssh-ed25519 AAAA u' }));
  assert.is(credentialsPayload('p'.repeat(20), {}).split('\n')[1], '', 'no motd: an empty line, the image keeps its own');
  const salts = new Set(Array.from({ length: 50 }, () => credentialsPayload('p'.repeat(20), {}).split('$')[2]));
  assert.is(salts.size, 50);
  const keys = authorizedKeysFile({ terminal: 'ssh-ed25519 AAAA t' });
  assert.equal([keys.path, keys.mode, keys.uid, keys.gid], ['/root/.ssh/authorized_keys', 0o600, 0, 0]);
  assert.is(keys.content.toString(), authorizedKeysText({ terminal: 'ssh-ed25519 AAAA t' }));
});

test('archive: files packed for the archive API keep path, content, mode and owner', async () => {
  const packed = await packFiles([{ path: '/root/.ssh/authorized_keys', content: Buffer.from('k\n'), mode: 0o600, uid: 0, gid: 0 }]);
  const entries: Array<{ name: string; mode?: number; uid?: number; body: string }> = [];
  await new Promise<void>((resolve, reject) => {
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      let body = '';
      stream.on('data', (c: Buffer) => { body += c.toString(); });
      stream.on('end', () => { entries.push({ name: header.name, mode: header.mode, uid: header.uid, body }); next(); });
    });
    extract.on('finish', resolve).on('error', reject);
    extract.end(packed);
  });
  assert.equal(entries, [{ name: 'root/.ssh/authorized_keys', mode: 0o600, uid: 0, body: 'k\n' }]);
});

test('generatePassword: ≥ 20 characters, different every time, refuses shorter', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const p = generatePassword();
    assert.ok(p.length >= 20);
    assert.match(p, /^[A-Za-z0-9]+$/);
    seen.add(p);
  }
  assert.is(seen.size, 200);
  assert.throws(() => generatePassword(12), /at least 20/);
});

test('the holder: the same key (even wrapped differently) matches; another key does not', () => {
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const record = { holderKey: Buffer.from(pem).toString('base64') };
  const isHolder = (r: typeof record, key: string) => sameHolder(storedHolderDigest(r.holderKey), holderDigest(key));
  assert.ok(isHolder(record, pem));
  assert.ok(isHolder(record, pem.replace(/\n/g, '\r\n')));
  assert.not.ok(isHolder(record, other));
  assert.not.ok(isHolder(record, 'not a key'));
});

test('expiry scheduler: fires at the deadline; deadlines beyond 24.8 days hop instead of firing at once', async () => {
  const scheduler = createExpiryScheduler();
  let fired = 0;
  scheduler.schedule(Date.now() + 50, () => { fired++; });
  assert.is(fired, 0);
  await new Promise((r) => setTimeout(r, 120));
  assert.is(fired, 1);
  assert.is(scheduler.deadline, undefined);

  // A fake clock: 60 days away → hops of MAX_TIMER_MS, never an early fire.
  let now = 0;
  const far = createExpiryScheduler(() => now);
  let early = 0;
  far.schedule(60 * 86_400_000, () => { early++; });
  await new Promise((r) => setTimeout(r, 30));
  assert.is(early, 0);
  assert.is(far.deadline, 60 * 86_400_000);
  far.cancel();
  assert.ok(MAX_TIMER_MS < 25 * 86_400_000);

  const cancelled = createExpiryScheduler();
  let calls = 0;
  cancelled.schedule(Date.now() + 30, () => { calls++; });
  cancelled.cancel();
  await new Promise((r) => setTimeout(r, 60));
  assert.is(calls, 0);
});

test('allocation store: atomic write, 0600 files, allocation_key = base64 of the PEM, clear removes both', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cm-store-'));
  try {
    const store = allocationStore(dir);
    assert.is(store.read(), null);
    const record: AllocationRecord = {
      version: 1, id: 'abcdef0123456789', holderKey: Buffer.from('-----BEGIN PUBLIC KEY-----\nAA\n-----END PUBLIC KEY-----\n').toString('base64'),
      role: 'ssh-container', containerId: 'c1', containerName: 'ssh-container', image: 'ssh-image-base:latest', ownImage: false,
      port: 4444, cpuset: '0', createdAt: 1, deadline: 2, keys: { user: 'ssh-ed25519 AAAA x' },
    };
    store.write(record);
    assert.equal(store.read(), record);
    assert.is(readFileSync(join(dir, HOLDER_KEY_FILE), 'utf8'), record.holderKey);
    assert.is(statSync(join(dir, RECORD_FILE)).mode & 0o777, 0o600);
    assert.is(statSync(join(dir, HOLDER_KEY_FILE)).mode & 0o777, 0o600);
    assert.equal(readdirSync(dir).sort(), [HOLDER_KEY_FILE, RECORD_FILE].sort()); // no temp files left
    store.clear();
    assert.is(store.read(), null);
    assert.not.ok(existsSync(join(dir, HOLDER_KEY_FILE)));
    writeFileSync(join(dir, RECORD_FILE), '{"version":1}');
    assert.throws(() => store.read(), /not a valid allocation record/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serializer: tasks run one at a time in order, a failure does not block the next', async () => {
  const run = serializer();
  const log: string[] = [];
  const task = (name: string, ms: number, fail = false) => run(async () => {
    log.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  });
  const results = await Promise.allSettled([task('a', 20), task('b', 5, true), task('c', 1)]);
  assert.equal(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.is(results[1]!.status, 'rejected');
  assert.equal(results[2], { status: 'fulfilled', value: 'c' });
});

test('base image recipe: root login with password and key, per-container ed25519 host keys, digest follows FROM', () => {
  assert.match(SSHD_CONFIG, /^PermitRootLogin yes$/m);
  assert.match(SSHD_CONFIG, /^PasswordAuthentication yes$/m);
  assert.match(SSHD_CONFIG, /^PubkeyAuthentication yes$/m);
  assert.match(START_SSHD, /ssh-keygen -q -t ed25519/);
  assert.match(baseDockerfile('x'), /rm -f \/etc\/ssh\/ssh_host_\*/); // no host key baked in
  assert.is.not(recipeDigest('a'), recipeDigest('b'));
  assert.is(probeAddress('0.0.0.0'), '127.0.0.1');
  assert.is(probeAddress('127.0.0.1'), '127.0.0.1');
});


test('containment: every capability dropped but the ones sshd, apt and pip need; no-new-privileges; never privileged', () => {
  const h = containerCreateOptions(plan()).HostConfig!;
  assert.equal(h.CapDrop, ['ALL']);
  assert.equal(h.CapAdd, [...RENTAL_CAPABILITIES]);
  for (const kept of ['SETUID', 'SETGID', 'SYS_CHROOT', 'AUDIT_WRITE', 'NET_BIND_SERVICE', 'CHOWN']) assert.ok(h.CapAdd!.includes(kept), kept);
  for (const dropped of ['NET_RAW', 'MKNOD', 'SETFCAP', 'SETPCAP', 'SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE']) assert.not.ok(h.CapAdd!.includes(dropped), dropped);
  assert.is(h.SecurityOpt![0], 'no-new-privileges:true');
  // The project's own profile (Docker's default plus newer refusals), never unconfined.
  const seccomp = (h.SecurityOpt ?? []).filter((o: string) => o.startsWith('seccomp'));
  assert.equal(seccomp, [`seccomp=${rentalSeccompProfile()}`]);
  assert.is(h.SecurityOpt!.length, 2);
  assert.is(h.Privileged, false);
  assert.is(h.IpcMode, 'private');
  assert.equal(h.Binds, []);
  assert.is(h.Mounts, undefined);
  assert.is(h.Devices, undefined);
  assert.is(h.PidMode, undefined);
  assert.is(h.UsernsMode, undefined);
});

test('containment: pids limit, nofile, bounded json-file log, OOM score above the host, the rental network', () => {
  const h = containerCreateOptions(plan({ containment: { ...DEFAULT_CONTAINMENT, pidsLimit: 300, nofile: 4096, logMaxBytes: 1 << 20, logFiles: 3, oomScoreAdj: 900 } })).HostConfig!;
  assert.is(h.PidsLimit, 300);
  assert.equal(h.Ulimits, [{ Name: 'nofile', Soft: 4096, Hard: 4096 }]);
  assert.equal(h.LogConfig, { Type: 'json-file', Config: { 'max-size': String(1 << 20), 'max-file': '3' } });
  assert.is(h.OomScoreAdj, 900);
  assert.is(h.NetworkMode, 'p-cm-net-0a1b2c3d');
  // The defaults are what the README names.
  assert.equal({ ...DEFAULT_CONTAINMENT }, { pidsLimit: 2048, nofile: 16384, logMaxBytes: 10 * 1024 * 1024, logFiles: 2, oomScoreAdj: 800 });
});

test('containmentProblem: absurd limits are refused with the setting named', () => {
  assert.is(containmentProblem(DEFAULT_CONTAINMENT), null);
  assert.match(containmentProblem({ ...DEFAULT_CONTAINMENT, pidsLimit: 0 }) ?? '', /pids limit/);
  assert.match(containmentProblem({ ...DEFAULT_CONTAINMENT, pidsLimit: 1.5 }) ?? '', /pids limit/);
  assert.match(containmentProblem({ ...DEFAULT_CONTAINMENT, nofile: -1 }) ?? '', /nofile/);
  assert.match(containmentProblem({ ...DEFAULT_CONTAINMENT, logMaxBytes: 10 }) ?? '', /log size/);
  assert.match(containmentProblem({ ...DEFAULT_CONTAINMENT, logFiles: 100 }) ?? '', /log files/);
  assert.match(containmentProblem({ ...DEFAULT_CONTAINMENT, oomScoreAdj: -500 }) ?? '', /OOM score/);
});

test('rentalNetworkOptions: a bridge of its own named cmr + 8 hex, container-to-container traffic off', () => {
  const n = rentalNetworkOptions('p-cm-net-0a1b2c3d', '0a1b2c3d', { 'compute-miner.owner': '5Abc' });
  assert.is(n.Driver, 'bridge');
  assert.is(n.Options['com.docker.network.bridge.name'], 'cmr0a1b2c3d');
  assert.ok(n.Options['com.docker.network.bridge.name']!.length <= 15, 'IFNAMSIZ');
  assert.is(n.Options['com.docker.network.bridge.enable_icc'], 'false');
  assert.equal(n.Labels, { 'compute-miner.owner': '5Abc' });
  assert.throws(() => rentalNetworkOptions('x', 'zz; rm -rf /', {}), /8 hex/);
});

test('storageSizeBytes: the request plus the image, so the renter can write what was asked', () => {
  assert.is(storageSizeBytes(2 * GiB, 270 * 1024 ** 2), 2 * GiB + 270 * 1024 ** 2);
});

test('btrfsSubvolumePath: only a 64-hex layer id makes a path under the data root', () => {
  const id = 'a'.repeat(64);
  assert.is(btrfsSubvolumePath('/pool/docker', id), `/pool/docker/btrfs/subvolumes/${id}`);
  assert.throws(() => btrfsSubvolumePath('/pool/docker', '../../etc'), /unexpected layer id/);
  // The driver's own size record, which it re-applies on every mount of the layer.
  assert.is(btrfsQuotaFilePath('/pool/docker', id), `/pool/docker/btrfs/quotas/${id}`);
  assert.throws(() => btrfsQuotaFilePath('/pool/docker', `${id}/../x`), /unexpected layer id/);
});

test('rentalHealth: running and paused are fine; a container Docker gave up on says why', () => {
  const detail = (over: object) => ({ id: 'c', name: 'n', labels: {}, state: 'running', pid: 5, restartCount: 0, exitCode: 0, oomKilled: false, error: '', finishedAt: '', networks: [], ...over });
  assert.equal(rentalHealth(detail({}), 5), { container: 'running', ok: true, restarts: 0 });
  assert.is(rentalHealth(detail({ state: 'paused' }), 5).ok, true);
  const dead = rentalHealth(detail({ state: 'exited', restartCount: 5, exitCode: 137, oomKilled: true }), 5);
  assert.is(dead.ok, false);
  assert.match(dead.reason ?? '', /exited \(killed by the out-of-memory killer\) after 5 restarts: Docker will not restart it again/);
  assert.match(rentalHealth(detail({ state: 'restarting', restartCount: 2, exitCode: 1 }), 5).reason ?? '', /restart 2 of 5/);
  assert.match(rentalHealth(detail({ state: 'exited', exitCode: 2 }), 5).reason ?? '', /exit code 2/);
  assert.equal(rentalHealth(null, 5), { container: 'gone', ok: false, restarts: 0, reason: 'the container no longer exists' });
});

test.run();
