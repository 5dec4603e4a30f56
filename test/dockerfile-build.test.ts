// Both forms of `docker_requirement.dockerfile`, sent over the axon to a real miner on the real
// Docker daemon, build and land in the rental: plain shell commands (the reference's form) and
// the extended form with RUN/ENV/WORKDIR lines. The marker files are read back over SSH, and the
// per-allocation image is gone after the release.
import { createServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateHotkey } from '../protocol/index.js';
import { decryptAllocationInfo, generateRenterKeyPair } from '../src/validator/credentials.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { allocateOutput, releaseRequest } from '../src/validator/rent.js';
import { RUN_LABEL, sshRun } from './helpers/docker.js';
import { startTestMiner, type TestMiner } from './helpers/miner.js';

const MiB = 1024 * 1024;
const PIDS_LIMIT = 64;
const build = suite<{ miner: TestMiner; dendrite: Dendrite }>('dockerfile builds');

build.before(async (ctx) => {
  // A small pids limit, so a build's fork loop meets it long before its memory limit.
  ctx.miner = await startTestMiner({ area: 'dfile', rentals: { containment: { pidsLimit: PIDS_LIMIT } } });
  ctx.dendrite = new Dendrite({ hotkey: generateHotkey(), url: ctx.miner.url, axonHotkey: ctx.miner.hotkeySs58, timeoutMs: 120_000 });
});

build.after(async (ctx) => {
  await ctx.dendrite?.close().catch(() => undefined);
  await ctx.miner?.close();
});

const renterImages = (ctx: { miner: TestMiner }) =>
  ctx.miner.docker.listImages({ filters: { label: [`${RUN_LABEL}=${ctx.miner.run.id}`] } });

/** Rents with `dockerfile`, runs `command` over SSH, releases; returns the command's output. */
async function rentAndRun(ctx: { miner: TestMiner; dendrite: Dendrite }, dockerfile: string, command: string): Promise<string> {
  const keys = generateRenterKeyPair();
  const body = {
    checking: false, timeline: 1,
    device_requirement: { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {} },
    public_key: keys.publicKeyPem,
    docker_requirement: { dockerfile },
  };
  const out = allocateOutput(await ctx.dendrite.call('Allocate', body, { timeoutSeconds: 120 }));
  try {
    assert.ok(out.status, out.error);
    const credentials = decryptAllocationInfo(out.info!, keys.privateKeyPem);
    assert.is((await renterImages(ctx)).length, 1, 'one per-allocation image while rented');
    return await sshRun(credentials.port, { password: credentials.password }, command);
  } finally {
    const released = allocateOutput(await ctx.dendrite.call('Allocate', releaseRequest(keys.publicKeyPem), { timeoutSeconds: 60 }));
    assert.ok(released.status, released.error);
    assert.is((await renterImages(ctx)).length, 0, 'the per-allocation image goes with the allocation');
  }
}

build('plain shell commands (the issue\'s request, and a multi-line script with quotes and a heredoc)', async (ctx) => {
  const script = [
    'echo renter-was-here > /root/marker.txt',
    '# a comment, then a heredoc and quotes',
    "cat > /root/second.txt <<'EOF'",
    'it\'s "$HOME" literally',
    'EOF',
    'cd /root && echo "$(pwd)" >> /root/second.txt',
  ].join('\n');
  const seen = await rentAndRun(ctx, script, 'cat /root/marker.txt /root/second.txt');
  assert.is(seen, 'renter-was-here\nit\'s "$HOME" literally\n/root\n');
});

build('extended form: ENV and WORKDIR lines, a RUN line and shell lines, in order', async (ctx) => {
  const text = 'ENV RENTER_MARK=extended\nWORKDIR /opt/renter\necho "$RENTER_MARK" > mark.txt\nRUN echo "$(pwd)" >> /opt/renter/mark.txt';
  const seen = await rentAndRun(ctx, text, 'cat /opt/renter/mark.txt');
  assert.is(seen, 'extended\n/opt/renter\n');
});

build('a failing shell line fails the build (sh -e), refused with status false and nothing left', async (ctx) => {
  const keys = generateRenterKeyPair();
  const out = allocateOutput(await ctx.dendrite.call('Allocate', {
    checking: false, timeline: 1,
    device_requirement: { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 1024 * MiB }, gpu: {} },
    public_key: keys.publicKeyPem,
    docker_requirement: { dockerfile: 'false\necho never > /root/never.txt' },
  }, { timeoutSeconds: 120 }));
  assert.is(out.status, false);
  assert.match(out.error ?? '', /^dockerfile build failed/);
  assert.is((await renterImages(ctx)).length, 0);
  assert.is(ctx.miner.manager.state().allocated, false);
});

build('a build step is held as the rental: its network, its core and memory, its pids limit, its capabilities, the seccomp profile (no raw sockets), no-new-privileges', async (ctx) => {
  // A host service on every address: a build step on Docker's default bridge reached it through its gateway.
  const server = createServer((s) => s.end('host'));
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  const port = (server.address() as { port: number }).port;
  const probe = [
    'import ctypes, os, socket',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'print("io_uring", "refused" if libc.syscall(425, 1, ctypes.create_string_buffer(120)) < 0 else "allowed")',
    'for l in open("/proc/self/status").read().splitlines():',
    '    if l.startswith(("NoNewPrivs", "Seccomp:", "CapEff", "CapBnd")): print(" ".join(l.split()))',
    'print("cpus", len(os.sched_getaffinity(0)))',
    // Docker's builder keeps its default capabilities (NET_RAW among them): the profile refuses raw sockets itself.
    'for name, fam, typ in (("inet-raw", socket.AF_INET, socket.SOCK_RAW), ("packet", 17, socket.SOCK_RAW)):',
    '    try:',
    '        socket.socket(fam, typ, 1 if fam == socket.AF_INET else 0).close(); print(name, "open")',
    '    except OSError as e:',
    '        print(name, "refused", e.errno)',
    'import subprocess',
    'procs = []',
    'try:',
    `    for i in range(${PIDS_LIMIT * 3}): procs.append(subprocess.Popen(["sleep", "60"]))`,
    '    print("forks unbounded", len(procs))',
    'except OSError as e:',
    '    print("forks stopped at", len(procs))',
    'for p in procs: p.kill(); p.wait()',
    'for p in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):',
    '    if os.path.exists(p): print("memory", open(p).read().strip()); break',
    'gw = [socket.inet_ntoa(bytes.fromhex(f[2])[::-1]) for f in (l.split() for l in open("/proc/net/route").read().splitlines()[1:]) if f[1] == "00000000"][0]',
    's = socket.socket(); s.settimeout(3)',
    'try:',
    `    s.connect((gw, ${port})); print("gateway open")`,
    'except OSError:',
    '    print("gateway closed")',
  ].join('\n');
  try {
    const seen = await rentAndRun(ctx, `cat > /tmp/probe.py <<'EOF'\n${probe}\nEOF\npython3 /tmp/probe.py > /root/build-facts`, 'cat /root/build-facts');
    assert.match(seen, /^io_uring refused$/m, seen);
    assert.match(seen, /^NoNewPrivs: 1$/m, seen);
    assert.match(seen, /^Seccomp: 2$/m, seen);
    assert.match(seen, /^cpus 1$/m, seen);
    assert.match(seen, /^inet-raw refused 1$/m, seen);
    // The rental's capabilities and no more: NET_RAW, MKNOD, SETPCAP, SETFCAP gone from the step and its children.
    for (const field of ['CapEff', 'CapBnd']) {
      const caps = BigInt(`0x${new RegExp(`^${field}: ([0-9a-f]+)$`, 'm').exec(seen)?.[1] ?? 'ffffffffff'}`);
      for (const [name, bit] of [['NET_RAW', 13n], ['MKNOD', 27n], ['SETPCAP', 8n], ['SETFCAP', 31n]] as const) assert.is(caps & (1n << bit), 0n, `${field} ${name}: ${seen}`);
      assert.ok(caps & (1n << 0n), `${field} keeps CHOWN: ${seen}`);
    }
    const forks = Number(/^forks stopped at (\d+)$/m.exec(seen)?.[1]);
    assert.ok(forks > 0 && forks < PIDS_LIMIT, `a fork loop in the build stops below the pids limit: ${seen}`);
    assert.match(seen, /^packet refused 1$/m, seen);
    assert.match(seen, new RegExp(`^memory ${256 * MiB}$`, 'm'), seen);
    assert.match(seen, /^gateway closed$/m, seen);
  } finally {
    server.close();
  }
});

build.run();
