// test-lane: alone (see scripts/run-tests.mjs)
// A hostile root user in a real rental, over SSH: every attack is bounded in time and size and
// aimed only at this machine (loopback, the project's own containers and a test host in a
// network namespace this test makes). Disk, processes, memory, logs, capabilities, network.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync, statfsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type Dockerode from 'dockerode';
import type { AllocationRequest } from '../src/rentals/service.js';
import { ensureFirewall } from '../src/host/firewall.js';
import { RENTAL_ADDRESS_POOL, rentalHostLayout } from '../src/host/rental-dockerd.js';
import { allocationContainers, sshRun, standbyContainers, startManagerRun, stopManagerRun, trackedHolders, type ManagerRun } from './helpers/docker.js';
import { until } from './helpers/wait.js';

const MiB = 1024 * 1024;
const DISK = 200 * MiB;
const PIDS = 256;
const LOG_MAX = 1 * MiB;
const LOG_FILES = 2;
/** The engine's answer bound: generous, the machine these suites run on is shared and loaded (docker info has taken 1.9 s). */
const ANSWER_BOUND_MS = 10_000;

interface Ctx {
  a: ManagerRun; b: ManagerRun; c: ManagerRun;
  passwordA: string; passwordB: string;
  /** The holder of rental A (its public key PEM). */
  holderA: string;
  /** The warm container A's rental claimed. */
  warmA: string;
  holders: ReturnType<typeof trackedHolders>;
  listener?: Server; listenerPort: number;
  ns?: { name: string; veth: string; server: ChildProcess };
}
const attacks = suite<Ctx>('containment');

const request = (publicKeyPem: string): AllocationRequest => ({
  timelineDays: 1,
  device: { cpu: { count: 1 }, ram: { capacity: 1024 * MiB }, hard_disk: { capacity: DISK }, gpu: {}, testing: false },
  publicKeyPem, sshKey: '', dockerfile: '',
});

async function network(docker: Dockerode, id: string): Promise<{ ip: string; gateway: string }> {
  const c = await docker.getContainer(id).inspect();
  const n = Object.values(c.NetworkSettings.Networks)[0]!;
  return { ip: n.IPAddress, gateway: n.Gateway };
}

/** Python run as root in rental A; the program gets no input from anywhere but this file. */
const inA = (ctx: Ctx, program: string, timeoutMs = 60_000) =>
  sshRun(ctx.a.port, { password: ctx.passwordA }, `echo ${Buffer.from(program).toString('base64')} | base64 -d | python3 2>&1`, timeoutMs);

const canConnect = (host: string, port: number) =>
  `import socket\ns=socket.socket();s.settimeout(2)\ntry:\n  s.connect((${JSON.stringify(host)},${port}));print("open")\nexcept Exception as e:\n  print("closed",type(e).__name__)`;

/** Waits for a started warm container of a run (one a rental can claim); slow on a loaded machine. */
const warmStarted = (run: ManagerRun, what: string) =>
  until(what, async () => run.manager.state().standby && (await standbyContainers(run.docker, run.run, run.manager)).length === 1, 180_000, 200);

attacks.before(async (ctx) => {
  try {
    await setUp(ctx);
  } catch (err) {
    // uvu does not print what failed in a before hook: said here.
    process.stderr.write(`containment set-up failed: ${(err as Error).stack ?? String(err)}\n`);
    throw err;
  }
});

async function setUp(ctx: Ctx): Promise<void> {
  await ensureFirewall(RENTAL_ADDRESS_POOL);
  ctx.holders = trackedHolders();
  const containment = { pidsLimit: PIDS, logMaxBytes: LOG_MAX, logFiles: LOG_FILES };
  ctx.a = await startManagerRun('jail-a', { containment, restartRetries: 1, answerBoundMs: ANSWER_BOUND_MS });
  ctx.b = await startManagerRun('jail-b', { answerBoundMs: ANSWER_BOUND_MS });
  ctx.c = await startManagerRun('jail-c', { answerBoundMs: ANSWER_BOUND_MS });
  // A's rental claims its warm container (the /dev/shm and disk cases are about a claimed one).
  await warmStarted(ctx.a, 'the warm container of A');
  ctx.warmA = (await standbyContainers(ctx.a.docker, ctx.a.run, ctx.a.manager))[0]!.Id;
  ctx.holderA = ctx.holders.keys().publicKeyPem;
  const ra = await ctx.a.manager.allocate(request(ctx.holderA));
  assert.ok(ra.status, ra.status ? '' : ra.error);
  ctx.passwordA = ra.status ? ra.credentials.password : '';
  const rb = await ctx.b.manager.allocate(request(ctx.holders.keys().publicKeyPem));
  assert.ok(rb.status, rb.status ? '' : rb.error);
  ctx.passwordB = rb.status ? rb.credentials.password : '';
  await warmStarted(ctx.c, 'the warm container of C');
}

attacks.after(async (ctx) => {
  ctx.listener?.close();
  if (ctx.ns) {
    ctx.ns.server.kill('SIGKILL');
    try { execFileSync('ip', ['netns', 'del', ctx.ns.name]); } catch { /* gone */ }
    try { execFileSync('ip', ['link', 'del', ctx.ns.veth]); } catch { /* went with the namespace */ }
  }
  for (const run of [ctx.a, ctx.b, ctx.c]) if (run) { await ctx.holders.release(run.manager); await stopManagerRun(run); }
});

attacks('no-new-privileges, seccomp filtering, no NET_RAW/MKNOD/SYS_ADMIN; AF_PACKET and mount refused', async (ctx) => {
  const out = await inA(ctx, [
    'import socket, subprocess',
    'st = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\\t" in l)',
    'print("nnp", st["NoNewPrivs"].strip(), "seccomp", st["Seccomp"].strip(), "capeff", st["CapEff"].strip())',
    'try:\n  socket.socket(socket.AF_PACKET, socket.SOCK_RAW); print("packet open")\nexcept PermissionError: print("packet refused")',
    'r = subprocess.run(["mount", "-t", "tmpfs", "none", "/mnt"], capture_output=True); print("mount rc", r.returncode)',
  ].join('\n'));
  assert.match(out, 'nnp 1 seccomp 2');
  const capEff = BigInt(`0x${/capeff ([0-9a-f]+)/.exec(out)![1]}`);
  for (const [name, bit] of [['NET_RAW', 13n], ['MKNOD', 27n], ['SYS_ADMIN', 21n], ['SETFCAP', 31n], ['SETPCAP', 8n], ['NET_ADMIN', 12n]] as const) {
    assert.is(capEff & (1n << bit), 0n, `${name} must be dropped`);
  }
  // What sshd itself needs is there: this login went through privilege separation and chroot.
  for (const bit of [6n, 7n, 18n, 29n]) assert.ok(capEff & (1n << bit), `capability bit ${bit} kept`);
  assert.match(out, 'packet refused');
  assert.not.match(out, 'mount rc 0');
});

attacks('root in the rental is an unprivileged uid on the host (user namespace of the rental daemon)', async (ctx) => {
  // The program holds its session for a few seconds, so the host can find it meanwhile.
  const running = inA(ctx, [
    'print("uid_map", " ".join(open("/proc/self/uid_map").read().split()))',
    'print("gid_map", " ".join(open("/proc/self/gid_map").read().split()))',
    'import subprocess',
    'subprocess.run(["sleep", "6.28318"])',
  ].join('\n'));
  const hostUids = await until('the rental\'s program seen from the host', async () => {
    const lines = execFileSync('ps', ['-eo', 'uid=,args=']).toString().split('\n').filter((l) => l.trim().endsWith('sleep 6.28318'));
    const uids = lines.map((l) => Number(l.trim().split(/\s+/)[0]));
    return uids.length > 0 ? uids : undefined;
  }, 5_000, 100);
  const out = await running;
  const [inside, outside, count] = /uid_map (\d+) (\d+) (\d+)/.exec(out)!.slice(1).map(Number);
  assert.is(inside, 0, out);
  assert.ok(outside! >= 65536 && count! <= 65536, `root maps to an unprivileged range: ${out}`);
  assert.match(out, new RegExp(`gid_map 0 ${outside} ${count}`));
  // From the host: the renter's root-owned program runs as that uid, not as root.
  assert.equal(hostUids, [outside], `host uid of the rental's sleep: ${hostUids}`);
});

/** A 32-bit system call entry (int 0x80) from the 64-bit Python: socket(2) direct (359) and through socketcall (102). */
const X86_SOCKETS = [
  'import ctypes, os, struct',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'libc.mmap.restype = ctypes.c_void_p',
  'libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]',
  'page = libc.mmap(None, 4096, 7, 0x62, -1, 0)  # rwx, private anonymous, below 4 GiB (MAP_32BIT)',
  'def call32(code):\n  ctypes.memmove(page, code, len(code)); return ctypes.CFUNCTYPE(ctypes.c_int)(page)()',
  'def direct(fam):\n  return call32(b"\\x53\\xb8" + struct.pack("<I", 359) + b"\\xbb" + struct.pack("<I", fam) + b"\\xb9\\x01\\x00\\x00\\x00\\x31\\xd2\\xcd\\x80\\x5b\\xc3")',
  'def socketcall(fam):\n  ctypes.memmove(page + 2048, struct.pack("<III", fam, 1, 0), 12)\n  return call32(b"\\x53\\xb8" + struct.pack("<I", 102) + b"\\xbb\\x01\\x00\\x00\\x00\\xb9" + struct.pack("<I", page + 2048) + b"\\xcd\\x80\\x5b\\xc3")',
  'for name, fn in (("x86-socket", direct), ("x86-socketcall", socketcall)):',
  '  fd = fn(40); print(name, "vsock", "open" if fd >= 0 else "refused", flush=True)',
  '  if fd >= 0: os.close(fd)',
].join('\n');

attacks('seccomp: io_uring_setup, socket(AF_VSOCK) and socket(AF_ALG) refused (also with bits above the 32 the kernel reads, and from 32-bit code); ordinary sockets open', async (ctx) => {
  // Sockets are only made, never connected: nothing leaves the rental.
  const out = await inA(ctx, [
    'import ctypes, socket, subprocess, sys',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'libc.syscall.restype = ctypes.c_long',
    'params = ctypes.create_string_buffer(120)',
    'r = libc.syscall(425, 8, params)  # io_uring_setup(8, params)',
    'print("io_uring_setup", "open" if r >= 0 else "refused %d" % ctypes.get_errno())',
    'for name, fam, typ in (("vsock", 40, socket.SOCK_STREAM), ("alg", 38, socket.SOCK_SEQPACKET), ("inet", socket.AF_INET, socket.SOCK_STREAM), ("inet6", socket.AF_INET6, socket.SOCK_DGRAM), ("unix", socket.AF_UNIX, socket.SOCK_STREAM), ("netlink", socket.AF_NETLINK, socket.SOCK_RAW)):',
    '  try:\n    socket.socket(fam, typ).close(); print(name, "open")\n  except OSError as e:\n    print(name, "refused", e.errno)',
    // The kernel reads the family as 32 bits: a family with bits above them set once passed a 64-bit comparison.
    'for name, fam, typ in (("vsock-high", (1 << 32) | 40, 1), ("alg-high", (1 << 32) | 38, 5)):',
    '  r = libc.syscall(41, ctypes.c_ulong(fam), ctypes.c_ulong(typ), ctypes.c_ulong(0))',
    '  print(name, "open" if r >= 0 else "refused %d" % ctypes.get_errno())',
    `r = subprocess.run([sys.executable, "-c", ${JSON.stringify(X86_SOCKETS)}], capture_output=True, text=True, timeout=20)`,
    'print("x86 rc", r.returncode); print(r.stdout)',
  ].join('\n'));
  assert.match(out, 'io_uring_setup refused 1');
  assert.match(out, 'vsock refused 1');
  assert.match(out, 'alg refused 1');
  assert.match(out, 'vsock-high refused 1');
  assert.match(out, 'alg-high refused 1');
  for (const family of ['inet', 'inet6', 'unix', 'netlink']) assert.match(out, `${family} open`);
  // Where the kernel has no 32-bit entry (int 0x80 faults: SIGSEGV), there is nothing to refuse.
  const x86 = Number(/x86 rc (-?\d+)/.exec(out)?.[1]);
  assert.ok(x86 === 0 || x86 === -11, `32-bit probe: ${out}`);
  assert.not.match(out, /x86-\w+ vsock open/);
});

attacks('a fork loop stops at the pids limit while the miner keeps answering within 1 s', async (ctx) => {
  let slowest = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const t = Date.now();
      await ctx.a.manager.health();
      slowest = Math.max(slowest, Date.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const out = await inA(ctx, [
    'import os, time, signal',
    'kids = []',
    'end = time.time() + 8',
    'while time.time() < end and len(kids) < 5000:',
    '  try:\n    pid = os.fork()\n  except OSError as e:\n    print("fork refused after", len(kids), e.errno); break',
    '  if pid == 0:\n    time.sleep(30); os._exit(0)',
    '  kids.append(pid)',
    'for k in kids: os.kill(k, signal.SIGKILL)',
    'for k in kids: os.waitpid(k, 0)',
  ].join('\n'));
  polling = false;
  await poller;
  const m = /fork refused after (\d+) 11/.exec(out);
  assert.ok(m, `the fork loop must hit EAGAIN: ${out}`);
  assert.ok(Number(m![1]) < PIDS, `stopped at ${m![1]} processes, limit ${PIDS}`);
  assert.ok(slowest < 1000, `the manager answered within 1 s throughout (slowest ${slowest} ms)`);
});

attacks('1.6 GiB in a 1 GiB rental is OOM-killed inside; the rental still answers', async (ctx) => {
  const out = await inA(ctx, [
    'import subprocess',
    'r = subprocess.run(["python3", "-c", "b = bytearray(1700 * 1024 * 1024); b[::4096] = b\\"x\\" * len(b[::4096]); print(\\"survived\\")"], capture_output=True, text=True)',
    'print("rc", r.returncode, r.stdout.strip())',
  ].join('\n'));
  assert.match(out, 'rc -9');
  assert.not.match(out, 'survived');
  assert.match(await inA(ctx, 'print("still here")'), 'still here');
});

attacks('dd of 1.5× the disk stops at the request (+5%) with EDQUOT/ENOSPC', async (ctx) => {
  const out = await sshRun(ctx.a.port, { password: ctx.passwordA },
    `dd if=/dev/zero of=/root/fill bs=1M count=${Math.round((DISK * 1.5) / MiB)} 2>&1; sync; stat -c %s /root/fill; rm -f /root/fill`, 120_000);
  assert.match(out, /Disk quota exceeded|No space left on device/, `dd must stop with EDQUOT/ENOSPC: ${out}`);
  const written = Number(out.trim().split('\n').pop());
  assert.ok(written >= DISK * 0.9, `the renter could write what was asked (${written} bytes)`);
  assert.ok(written <= DISK * 1.05, `no more than the request + 5% (${written} bytes)`);
});

attacks('flooding PID 1\'s stdout leaves the log under its cap', async (ctx) => {
  await sshRun(ctx.a.port, { password: ctx.passwordA }, 'head -c 20000000 /dev/urandom | base64 > /proc/1/fd/1; echo done', 60_000);
  const [rental] = await allocationContainers(ctx.a.docker, ctx.a.run, ctx.a.manager);
  const info = await ctx.a.docker.getContainer(rental!.Id).inspect();
  assert.is(info.HostConfig.LogConfig?.Type, 'json-file');
  let total = 0;
  for (const suffix of ['', '.1', '.2', '.3']) {
    try { total += statSync(`${info.LogPath}${suffix}`).size; } catch { /* not rotated that far */ }
  }
  assert.ok(total > 0, 'the output was logged');
  assert.ok(total <= LOG_MAX * LOG_FILES + 64 * 1024, `log ${total} bytes, cap ${LOG_MAX * LOG_FILES}`);
});

attacks('network: the host gateway, another rental and a standby are unreachable; a test host outside is reachable', async (ctx) => {
  // A listener on the host's 0.0.0.0, as any host service would be.
  ctx.listener = createServer((s) => s.end('host service\n'));
  await new Promise<void>((r) => ctx.listener!.listen(0, '0.0.0.0', () => r()));
  ctx.listenerPort = (ctx.listener.address() as { port: number }).port;
  // A test host at a TEST-NET address in a namespace of this test's own.
  const id = randomBytes(3).toString('hex');
  const name = `cmt-${id}`;
  const veth = `cmtv${id}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
  execFileSync('ip', ['addr', 'add', '198.51.100.1/24', 'dev', veth]);
  execFileSync('ip', ['link', 'set', veth, 'up']);
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'addr', 'add', '198.51.100.10/24', 'dev', 'eth0']);
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'eth0', 'up']);
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'route', 'add', 'default', 'via', '198.51.100.1']);
  const server = spawn('ip', ['netns', 'exec', name, 'python3', '-c',
    'import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("198.51.100.10",8080));s.listen()\nwhile True:\n  c,_=s.accept();c.sendall(b"test host\\n");c.close()'], { stdio: 'ignore' });
  ctx.ns = { name, veth, server };
  await new Promise((r) => setTimeout(r, 500));

  const [rentalA] = await allocationContainers(ctx.a.docker, ctx.a.run, ctx.a.manager);
  const [rentalB] = await allocationContainers(ctx.b.docker, ctx.b.run, ctx.b.manager);
  const [standbyC] = await standbyContainers(ctx.c.docker, ctx.c.run, ctx.c.manager);
  const a = await network(ctx.a.docker, rentalA!.Id);
  const b = await network(ctx.b.docker, rentalB!.Id);
  const c = await network(ctx.c.docker, standbyC!.Id);
  assert.ok(a.ip.startsWith('10.218.') && b.ip.startsWith('10.218.') && c.ip.startsWith('10.218.'), 'rentals are on their own subnets');
  assert.is.not(a.gateway, b.gateway);
  const script = [
    canConnect(a.gateway, ctx.listenerPort).replace('print("open")', 'print("gateway open")').replace('print("closed"', 'print("gateway closed"'),
    canConnect(b.ip, 22).replace('print("open")', 'print("rental open")').replace('print("closed"', 'print("rental closed"'),
    canConnect(c.ip, 22).replace('print("open")', 'print("standby open")').replace('print("closed"', 'print("standby closed"'),
    canConnect('198.51.100.10', 8080).replace('print("open")', 'print("outside open")').replace('print("closed"', 'print("outside closed"'),
  ].join('\n');
  const out = await inA(ctx, script);
  assert.match(out, 'gateway closed');
  assert.match(out, 'rental closed');
  assert.match(out, 'standby closed');
  assert.match(out, 'outside open');
  // The metadata and private-range rules are read, not tried.
  const rules = execFileSync('iptables', ['-w', '-S', 'COMPUTE-MINER-FORWARD'], { encoding: 'utf8' });
  for (const d of ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10']) assert.match(rules, `-d ${d} -i cmr+`);
});

attacks('/dev/shm is sized to the rental\'s memory, also on a claimed standby', async (ctx) => {
  const [rental] = await allocationContainers(ctx.a.docker, ctx.a.run, ctx.a.manager);
  assert.is(rental?.Id, ctx.warmA, 'rental A is its claimed warm container');
  const out = await inA(ctx, 'import os\ns=os.statvfs("/dev/shm")\nprint("shm", s.f_blocks*s.f_frsize)');
  const shm = Number(/shm (\d+)/.exec(out)![1]);
  assert.ok(shm <= 1024 * MiB && shm >= 512 * MiB, `shm ${shm} bytes for a 1 GiB rental`);
});

attacks('a rental that dies for good is reported as not running, with the reason', async (ctx) => {
  const service = ctx.a.manager;
  const [rental] = await allocationContainers(ctx.a.docker, ctx.a.run, service);
  const restarts = async () => (await ctx.a.docker.getContainer(rental!.Id).inspect()).RestartCount;
  const stateOfA = async () => (await service.rentals()).find((r) => r.port === ctx.a.port)?.state;
  const killSshd = () => sshRun(ctx.a.port, { password: ctx.passwordA }, 'kill -9 $(pgrep -o sshd)', 10_000).catch(() => undefined);
  // One restart is allowed (restartRetries 1): the first death is repaired, the second is final.
  await killSshd();
  await until('the first restart', async () => (await restarts()) === 1 && (await stateOfA()) === 'running', 30_000, 200);
  assert.equal(await service.checkHolder(ctx.holderA), { status: true });
  await until('SSH after the restart', async () => (await inA(ctx, 'print("back")').catch(() => '')).includes('back'), 30_000, 500);
  await killSshd();
  await until('rental reported down for good', async () => (await stateOfA()) === 'exited', 30_000, 200);
  const health = await service.health();
  assert.is(health.rentals.find((r) => r.port === ctx.a.port)?.state, 'exited');
  const held = await service.checkHolder(ctx.holderA);
  assert.is(held.status, false);
  assert.match(held.error ?? '', /^the container is not running: .*after 1 restarts: Docker will not restart it again/);
});

attacks('release gives the disk back to the pool', async (ctx) => {
  const pool = rentalHostLayout().pool.mountPoint;
  const free = () => { const s = statfsSync(pool); return s.bavail * s.bsize; };
  await sshRun(ctx.b.port, { password: ctx.passwordB }, 'dd if=/dev/urandom of=/root/keep bs=1M count=150 2>/dev/null; sync; echo ok', 120_000);
  execFileSync('btrfs', ['filesystem', 'sync', pool]);
  const used = free();
  await ctx.holders.release(ctx.b.manager);
  assert.is((await allocationContainers(ctx.b.docker, ctx.b.run, ctx.b.manager)).length, 0);
  // btrfs frees a deleted subvolume's extents in its cleaner thread, behind any earlier deletions
  // (other suites' rentals): wait for that backlog, then for this rental's space.
  execFileSync('btrfs', ['subvolume', 'sync', pool], { timeout: 120_000 });
  await until('the pool to get the rental\'s 150 MiB back', async () => {
    execFileSync('btrfs', ['filesystem', 'sync', pool]);
    return free() - used >= 100 * MiB;
  }, 30_000, 500);
});

attacks.run();
