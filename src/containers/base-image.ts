// The base image `ssh-image-base`: built once, reused by every allocation. From the configured
// FROM image when it is local or pullable; otherwise from a Debian bookworm root file system
// made with mmdebstrap and imported. Two miners starting at once are safe: a lock file in the
// data dir serializes builders, and each build goes to a temporary tag that is then retagged.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { Logger } from '../log.js';
import type { DockerEngine, ProgressFn } from './docker.js';
import { DEFAULT_BASE_FROM, DEFAULT_BASE_TAG, LABELS, ROOTFS_TAG } from './names.js';

export interface BaseImageOptions {
  /** FROM of the base image [pytorch/pytorch:2.7.0-cuda12.6-cudnn9-runtime]. */
  from?: string;
  /** Tag of the base image [ssh-image-base:latest]. */
  tag?: string;
  /** How long a pull of `from` may take before falling back to the Debian root file system [20 s]. */
  pullTimeoutMs?: number;
  /** Debian packages of the fallback root file system [DEFAULT_DEBIAN_PACKAGES]. */
  debianPackages?: string[];
  /** Tag of the fallback root file system [rootfsTag(debianPackages)]. */
  rootfsTag?: string;
  /** Where the build lock lives. */
  dataDir: string;
  log: Logger;
}

export const DEFAULT_PULL_TIMEOUT_MS = 20_000;
/**
 * What a renter expects on the box: sshd, Python with pip and venv, git, curl, wget, an editor,
 * a compiler toolchain and tmux. All Debian packages, put in by mmdebstrap: building the base
 * image needs nothing but the Debian archive (no pip or other downloads in the build).
 */
export const DEFAULT_DEBIAN_PACKAGES = [
  'openssh-server', 'python3', 'python3-pip', 'python3-venv', 'python3-dev', 'ca-certificates', 'procps', 'curl',
  'git', 'wget', 'vim', 'build-essential', 'tmux', 'less',
];
/**
 * The commands a rental must have, and the Debian/Ubuntu package that brings each: a FROM image
 * (e.g. the PyTorch one) that lacks some gets them from its apt; the Debian root file system
 * above already has them all, so its build installs nothing.
 */
export const RENTAL_COMMANDS: Record<string, string> = {
  '/usr/sbin/sshd': 'openssh-server', python3: 'python3', pip3: 'python3-pip', git: 'git', curl: 'curl', wget: 'wget',
  vim: 'vim', tmux: 'tmux', gcc: 'build-essential', make: 'build-essential', ps: 'procps',
};
export const PIP_CONF_PATH = '/etc/pip.conf';
// pip for root, as a renter types it (`pip install x`, also in `ssh host 'pip install x'`, which
// reads no profile): pip configured to install into the system Python rather than a venv on
// PATH, because a venv works only in shells that read the profile and hides what the image's
// own Python has installed (the PyTorch image's torch). The box is the renter's alone and
// disposable, so PEP 668's guard against breaking the distribution's Python protects nothing here.
export const PIP_CONF = `# pip of a rented container (compute-miner): root installs into the system Python
[global]
break-system-packages = true
root-user-action = ignore
`;
export const SSHD_CONFIG_PATH = '/etc/ssh/compute-miner_sshd_config';
const LOCK_POLL_MS = 1000;

// A complete sshd configuration of its own, so the distribution's defaults do not matter.
// UsePAM no: password and key checks against /etc/shadow and authorized_keys, no PAM session
// modules (pam_loginuid fails in containers).
export const SSHD_CONFIG = `# sshd of a rented container (compute-miner)
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin yes
PasswordAuthentication yes
PubkeyAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
AuthorizedKeysFile .ssh/authorized_keys
PrintMotd yes
X11Forwarding no
Subsystem sftp internal-sftp
`;

/** What the entry script prints once the credentials from stdin are in place. */
export const CREDENTIALS_ACK = 'credentials-applied';

// The container's entry script. Host keys are made at its first start, never baked into the
// image, so every container has its own (ed25519 only: the cheapest key to make). sshd starts at once;
// a background reader takes root's password hash (first line), the motd (base64, second line)
// and authorized_keys (the rest)
// from stdin, which only the miner can write (docker attach), and acknowledges on stdout.
// Later starts find stdin closed or silent and keep what is in place. sshd is the main
// process, so SIGTERM from docker-init ends the container promptly.
export const START_SSHD = `#!/bin/sh
set -e
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key; fi
mkdir -p /run/sshd
chmod 0755 /run/sshd
receive_credentials() {
  IFS= read -r hash || return 0
  IFS= read -r motd || return 0
  if [ -n "$motd" ]; then
    printf '%s' "$motd" | base64 -d > /etc/motd.new
    chmod 0644 /etc/motd.new
    mv -f /etc/motd.new /etc/motd
  fi
  umask 077
  while IFS= read -r line; do
    case "$line" in
      root:*) rest=\${line#root:}; printf 'root:%s:%s\\n' "$hash" "\${rest#*:}" ;;
      *) printf '%s\\n' "$line" ;;
    esac
  done < /etc/shadow > /etc/shadow.new
  mv -f /etc/shadow.new /etc/shadow
  mkdir -p /root/.ssh
  cat > /root/.ssh/authorized_keys.new
  mv -f /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys
  echo ${CREDENTIALS_ACK}
}
# A background job's stdin is /dev/null unless given another: keep the real one on fd 3.
exec 3<&0
receive_credentials <&3 &
exec 3<&-
exec /usr/sbin/sshd -D -e -f ${SSHD_CONFIG_PATH} < /dev/null
`;

export function baseDockerfile(from: string): string {
  return `FROM ${from}
COPY start-sshd /usr/local/sbin/start-sshd
COPY sshd_config ${SSHD_CONFIG_PATH}
COPY pip.conf ${PIP_CONF_PATH}
RUN set -eu; \\
    missing=''; \\
    for pair in ${Object.entries(RENTAL_COMMANDS).map(([c, p]) => `${c}:${p}`).join(' ')}; do \\
      command -v "\${pair%%:*}" >/dev/null 2>&1 || missing="$missing \${pair#*:}"; \\
    done; \\
    if [ -n "$missing" ]; then \\
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates $missing && rm -rf /var/lib/apt/lists/*; \\
    fi; \\
    chmod 0755 /usr/local/sbin/start-sshd; chmod 0644 ${SSHD_CONFIG_PATH} ${PIP_CONF_PATH}; \\
    rm -f /etc/ssh/ssh_host_*; mkdir -p /run/sshd /root/.ssh; chmod 0700 /root/.ssh
EXPOSE 22
CMD ["/usr/local/sbin/start-sshd"]
`;
}

/** Identifies the recipe, so a changed recipe (FROM, files or Debian packages) rebuilds the base image. */
export function recipeDigest(from: string, packages: string[] = DEFAULT_DEBIAN_PACKAGES): string {
  return createHash('sha256').update(baseDockerfile(from)).update(SSHD_CONFIG).update(START_SSHD).update(PIP_CONF)
    .update(packages.join(',')).digest('hex').slice(0, 16);
}

/** The Debian root file system's tag names its package list, so a changed list makes a new one. */
export function rootfsTag(packages: string[]): string {
  return `${ROOTFS_TAG}-${createHash('sha256').update(packages.join(',')).digest('hex').slice(0, 12)}`;
}

function splitTag(ref: string): { repo: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: 'latest' };
}

/** Logs build steps, pull/import byte counts and mmdebstrap's own lines, at most every 2 s for byte counts. */
function progressLogger(log: Logger, phase: string): ProgressFn {
  let last = 0;
  return (event) => {
    const line = (event.stream ?? '').trim();
    if (line.startsWith('Step ')) { log.info({ phase }, line); return; }
    if (event.status && event.progress && Date.now() - last > 2000) {
      last = Date.now();
      log.info({ phase }, `${event.status} ${event.progress}`);
    }
  };
}

/** Root file system tar of Debian bookworm, from mmdebstrap on stdout, counted as it flows. */
function debianRootfs(packages: string[], log: Logger): { tar: NodeJS.ReadableStream & import('node:stream').Readable; done: Promise<void>; stop(): void } {
  // Its own process group: mmdebstrap's apt, dpkg and tar go with it when the import fails.
  const child = spawn('mmdebstrap', ['--variant=minbase', `--include=${packages.join(',')}`, 'bookworm', '-'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let exited = false;
  child.once('exit', () => { exited = true; });
  let bytes = 0;
  let lastLog = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (Date.now() - lastLog > 2000) { lastLog = Date.now(); log.info({ phase: 'rootfs', bytes }, `root file system: ${(bytes / 1048576).toFixed(0)} MiB`); }
      cb(null, chunk);
    },
  });
  let stderrTail = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-2000);
    for (const line of text.split('\n')) if (line.startsWith('I: ') || line.startsWith('E: ')) log.info({ phase: 'rootfs' }, `mmdebstrap: ${line.slice(3)}`);
  });
  child.stdout.pipe(counter);
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => { counter.destroy(err); reject(new Error(`mmdebstrap could not run: ${err.message} (apt-get install mmdebstrap)`)); });
    child.on('close', (code) => {
      if (code === 0) { log.info({ phase: 'rootfs', bytes }, `root file system done: ${(bytes / 1048576).toFixed(0)} MiB`); resolve(); }
      else { const err = new Error(`mmdebstrap exited with ${code}: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`); counter.destroy(err); reject(err); }
    });
  });
  const stop = () => {
    if (exited || child.pid === undefined) return;
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  };
  return { tar: counter, done, stop };
}

function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Takes the build lock, waiting while a live process holds it; a dead holder's lock is taken over. */
async function acquireLock(path: string, log: Logger, stillNeeded: () => Promise<boolean>): Promise<(() => void) | null> {
  let waitingLogged = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => { try { unlinkSync(path); } catch { /* already gone */ } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    if (!Number.isInteger(holder) || holder === process.pid || !processAlive(holder)) {
      try { unlinkSync(path); } catch { /* raced with another taker */ }
      continue;
    }
    if (!waitingLogged) { log.info({ holder }, 'another process is building the base image; waiting'); waitingLogged = true; }
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    if (!(await stillNeeded())) return null;
  }
}

/**
 * Makes sure the base image exists and matches the current recipe; builds it when not.
 * Returns its reference. Safe to call from several processes at once.
 */
export async function ensureBaseImage(engine: DockerEngine, options: BaseImageOptions): Promise<string> {
  const from = options.from ?? DEFAULT_BASE_FROM;
  const ref = options.tag ?? DEFAULT_BASE_TAG;
  const log = options.log.child({ component: 'base-image' });
  const recipe = recipeDigest(from, options.debianPackages);
  const current = async () => (await engine.imageLabels(ref))?.[LABELS.recipe] === recipe;
  if (await current()) return ref;

  const release = await acquireLock(join(options.dataDir, 'base-image.lock'), log, async () => !(await current()));
  if (!release) return ref; // built by the process that held the lock
  try {
    if (await current()) return ref;
    const started = Date.now();
    const source = await resolveFrom(engine, from, options, log);
    log.info({ from: source }, `building ${ref} on ${source}`);
    const context = mkdtempSync(join(tmpdir(), 'compute-miner-base-'));
    const temp = `${splitTag(ref).repo}:build-${randomBytes(6).toString('hex')}`;
    try {
      writeFileSync(join(context, 'Dockerfile'), baseDockerfile(source));
      writeFileSync(join(context, 'start-sshd'), START_SSHD, { mode: 0o755 });
      writeFileSync(join(context, 'sshd_config'), SSHD_CONFIG, { mode: 0o644 });
      writeFileSync(join(context, 'pip.conf'), PIP_CONF, { mode: 0o644 });
      await engine.buildImage(context, ['Dockerfile', 'start-sshd', 'sshd_config', 'pip.conf'], {
        tag: temp,
        labels: { [LABELS.kind]: 'base', [LABELS.recipe]: recipe },
        onProgress: progressLogger(log, 'build'),
      });
      const { repo, tag } = splitTag(ref);
      await engine.tagImage(temp, repo, tag); // the final tag appears at once, fully built
    } finally {
      await engine.removeImage(temp).catch(() => undefined);
      rmSync(context, { recursive: true, force: true });
    }
    // An older base image, now untagged, would otherwise linger.
    await engine.pruneDanglingImages([`${LABELS.kind}=base`]).catch(() => undefined);
    log.info({ ms: Date.now() - started }, `${ref} ready`);
    return ref;
  } finally {
    release();
  }
}

/** The image to build on: `from` when local or pullable, else the Debian root file system. */
async function resolveFrom(engine: DockerEngine, from: string, options: BaseImageOptions, log: Logger): Promise<string> {
  if ((await engine.imageLabels(from)) !== null) return from;
  const timeoutMs = options.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS;
  try {
    log.info({ from, timeoutMs }, `pulling ${from}`);
    await engine.pullImage(from, { timeoutMs, onProgress: progressLogger(log, 'pull') });
    if ((await engine.imageLabels(from)) !== null) return from;
  } catch (err) {
    log.warn({ from, err: (err as Error).message }, `cannot pull ${from}; building on a Debian bookworm root file system instead`);
  }
  const packages = options.debianPackages ?? DEFAULT_DEBIAN_PACKAGES;
  const rootfs = options.rootfsTag ?? rootfsTag(packages);
  if ((await engine.imageLabels(rootfs)) !== null) return rootfs;
  log.info({ packages }, 'making a Debian bookworm root file system with mmdebstrap');
  const { tar, done, stop } = debianRootfs(packages, log);
  const { repo, tag } = splitTag(rootfs);
  const temp = `${repo}:import-${randomBytes(6).toString('hex')}`;
  const imported = engine.importImage(tar, { ...splitTag(temp), changes: [`LABEL ${LABELS.kind}=rootfs`] });
  try {
    // An import that fails (the engine gone, the upload cut) ends mmdebstrap too: nothing else would read its output.
    await Promise.all([done, imported.catch((err: unknown) => { stop(); throw err; })]);
    await engine.tagImage(temp, repo, tag);
  } finally {
    stop();
    await engine.removeImage(temp).catch(() => undefined);
  }
  return rootfs;
}
