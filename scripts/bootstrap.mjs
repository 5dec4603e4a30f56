#!/usr/bin/env node
// Makes a fresh Debian machine ready for `npm start`, `npm test` and `npm run bench`:
// npm packages, (as root) Debian's docker.io and friends, a running dockerd, a built tree.
// Only Node's built-ins are used here: nothing else exists yet when this runs.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync, mkdirSync, openSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const purpose = process.argv.includes('--for') ? process.argv[process.argv.indexOf('--for') + 1] : 'start';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const dockerSocket = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';

// Debian packages each purpose needs; the miner itself needs Docker, mmdebstrap, the pool's tools and lxcfs (a rental's own /proc view).
const PACKAGES = {
  start: ['docker.io', 'mmdebstrap', 'btrfs-progs', 'iptables', 'util-linux', 'lxcfs'],
  bench: ['docker.io', 'mmdebstrap', 'btrfs-progs', 'iptables', 'util-linux', 'lxcfs', 'hashcat', 'pocl-opencl-icd'],
  // The tests also drive iproute2 (a private dockerd's bridge), openssl, procps, chromium (the status page, headless) and systemd-analyze.
  test: ['docker.io', 'mmdebstrap', 'btrfs-progs', 'iptables', 'util-linux', 'lxcfs', 'hashcat', 'pocl-opencl-icd',
    'python3-nacl', 'python3-msgpack', 'python3-websockets', 'python3-cryptography', 'iproute2', 'openssl', 'procps', 'chromium', 'systemd'],
};

function say(msg) { process.stderr.write(`[bootstrap] ${msg}\n`); }
function fail(msg) { say(`error: ${msg}`); process.exit(1); }

function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing npm packages (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

function missingDebianPackages(names) {
  return names.filter((name) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

function ensureDebianPackages() {
  const wanted = PACKAGES[purpose] ?? PACKAGES.start;
  if (!existsSync('/usr/bin/dpkg-query')) { say('not a Debian system: skipping package installation'); return; }
  const missing = missingDebianPackages(wanted);
  if (missing.length === 0) return;
  if (!isRoot) {
    const msg = `missing Debian packages: ${missing.join(' ')}. Install them with: sudo apt-get install -y ${missing.join(' ')}`;
    if (purpose === 'test' || missing.includes('docker.io')) fail(msg);
    say(msg);
    return;
  }
  say(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
}

function pingDocker() {
  return new Promise((resolve) => {
    const req = request({ socketPath: dockerSocket, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

async function ensureDockerd() {
  if (await pingDocker()) return;
  if (!isRoot) fail(`the Docker daemon does not answer on ${dockerSocket}. Start it (sudo systemctl start docker, or sudo dockerd &) or run this as root.`);
  if (!existsSync('/usr/bin/dockerd') && !existsSync('/usr/sbin/dockerd')) fail('dockerd is not installed (apt-get install docker.io)');
  const logDir = '/var/log/compute-miner';
  mkdirSync(logDir, { recursive: true });
  const log = openSync(join(logDir, 'dockerd.log'), 'a');
  say(`starting dockerd (log: ${logDir}/dockerd.log)`);
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await pingDocker()) { say('dockerd is answering'); return; }
    await new Promise((r) => setTimeout(r, 250));
  }
  fail(`dockerd did not answer within 60 s; see ${logDir}/dockerd.log`);
}

function build() {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
}

// The storage pool, the rental Docker daemon and the firewall (the miner makes them itself at
// start too; the tests and benchmarks need them before any miner runs). `host setup` also makes
// the rental user and its /etc/subuid and /etc/subgid range, so the daemon starts remapped (root in
// a rental is not root on the host); a daemon left by an older release is switched when it holds
// nothing but standbys.
function hostSetup() {
  if (!isRoot) { say('not root: no storage pool or rental Docker daemon (disk sizes are not enforced)'); return; }
  // A test pool of 16 GiB is plenty (rentals in tests ask for a few hundred MiB); sparse, it
  // takes only what is written.
  const r = spawnSync(process.execPath, [join(root, 'dist', 'src', 'cli.js'), 'host', 'setup', '--pool-size', '16G'], { stdio: 'inherit' });
  if (r.status !== 0) fail('the rental host could not be set up (see above)');
}

ensureNodeModules();
const system = !process.argv.includes('--no-system');
if (system) {
  ensureDebianPackages();
  await ensureDockerd();
}
build();
if (system && purpose !== 'start') hostSetup();
