// Pure parts of host key pinning and of the rental's motd: which key lines are host keys (and
// their normal form), the known_hosts text OpenSSH reads, the ssh line, the pin's verdict and
// its reason, and the motd's figures. Keys are real ones from OpenSSH's ssh-keygen.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SSHD_CONFIG } from '../src/containers/base-image.js';
import { hostKeyLines, parseHostKeyLine } from '../protocol/index.js';
import { hostKeyPaths } from '../src/containers/host-keys.js';
import { cpusetCount, motdText } from '../src/containers/motd.js';
import { fingerprint, hostPin, HostKeyMismatchError, knownHostsName, knownHostsPath, knownHostsText } from '../src/validator/host-pin.js';
import { shellWord, sshCommandLine } from '../src/validator/rent.js';

const dir = mkdtempSync(join(tmpdir(), 'host-keys-'));
/** A public key line made by ssh-keygen, with its comment, and ssh-keygen's own fingerprint. */
function keygen(type: string, bits?: number): { line: string; fingerprint: string } {
  const file = join(dir, `${type}-${bits ?? 0}-${Math.random().toString(36).slice(2)}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', 'root@rental', '-f', file]);
  const line = readFileSync(`${file}.pub`, 'utf8');
  const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { line, fingerprint: fp };
}
const ed = keygen('ed25519');
const ecdsa = keygen('ecdsa', 384);
const rsa = keygen('rsa', 2048);
const [edType, edData] = ed.line.trim().split(' ');

const keys = suite('host key lines');

keys('ed25519, ecdsa and rsa lines from ssh-keygen parse, the comment stripped', () => {
  for (const k of [ed, ecdsa, rsa]) {
    const parsed = parseHostKeyLine(k.line);
    assert.ok(parsed.ok, k.line);
    if (!parsed.ok) continue;
    assert.is(parsed.line, k.line.trim().split(' ').slice(0, 2).join(' '));
    assert.not.match(parsed.line, 'root@rental');
    assert.is(fingerprint(parsed.blob), k.fingerprint);
  }
  assert.is(parseHostKeyLine(`  ${edType}\t${edData}  \n`).ok, true);
});

keys('what is not a host key line is refused with its reason', () => {
  const refused = (text: string, reason: string | RegExp) => {
    const parsed = parseHostKeyLine(text);
    assert.is(parsed.ok, false, text);
    if (!parsed.ok) assert.match(parsed.error, reason);
  };
  refused('', 'not an OpenSSH public key line');
  refused('ssh-ed25519', 'not an OpenSSH public key line');
  refused(`ssh-dss ${edData}`, 'key type "ssh-dss" is not one of');
  refused(`ssh-ed25519 ${edData!.slice(0, -4)}`, /not a 32-byte ed25519 key|not an SSH public key/);
  refused('ssh-ed25519 AAAA$$$$', 'not base64');
  refused(`ssh-rsa ${edData}`, 'its key data is of type "ssh-ed25519", not ssh-rsa');
  refused(`ecdsa-sha2-nistp256 ${ecdsa.line.split(' ')[1]}`, 'not ecdsa-sha2-nistp256');
  refused(`ssh-ed25519 ${Buffer.from('not a key at all').toString('base64')}`, 'not an SSH public key');
  refused(`-----BEGIN OPENSSH PRIVATE KEY----- ${edData}`, 'is not one of');
});

keys('a key file: one normal line per distinct key, blank lines skipped; one bad line fails it all', () => {
  assert.equal(hostKeyLines(`${ed.line}\n\n${ed.line}${rsa.line}`), [`${edType} ${edData}`, rsa.line.split(' ').slice(0, 2).join(' ')]);
  assert.throws(() => hostKeyLines(`${ed.line}garbage\n`), /not an OpenSSH public key line/);
  assert.equal(hostKeyLines(''), []);
});

keys('the key files read are the public halves of the HostKey files sshd is configured with', () => {
  assert.equal(hostKeyPaths(SSHD_CONFIG), ['/etc/ssh/ssh_host_ed25519_key.pub']);
  assert.equal(hostKeyPaths('HostKey /a\nHostKey /b\n#HostKey /c\n'), ['/a.pub', '/b.pub']);
});

const pin = suite('known_hosts and the pin');

pin('known_hosts text names host:port as OpenSSH does, one line per key, without comments', () => {
  const edLine = `${edType} ${edData}`;
  assert.is(knownHostsText('127.0.0.1', 2222, [ed.line]), `[127.0.0.1]:2222 ${edLine}\n`);
  assert.is(knownHostsText('Miner.Example', 22, [edLine, rsa.line]), `miner.example ${edLine}\nminer.example ${rsa.line.split(' ').slice(0, 2).join(' ')}\n`);
  assert.is(knownHostsName('::1', 2222), '[::1]:2222');
  assert.is(knownHostsName('[::1]', 22), '::1');
  assert.throws(() => knownHostsText('127.0.0.1', 2222, []), /no host keys/);
  assert.throws(() => knownHostsText('127.0.0.1', 2222, [edLine, 'ssh-ed25519 bogus']), /host key 2: /);
});

pin('ssh-keygen finds the pinned key for [host]:port in the written file', () => {
  const file = join(dir, 'known_hosts');
  writeFileSync(file, knownHostsText('127.0.0.1', 2222, [ed.line]));
  const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file], { encoding: 'utf8' });
  assert.match(found, `${edType} ${edData}`);
});

pin('the known_hosts file sits beside the key file; the ssh line uses it strictly', () => {
  assert.is(knownHostsPath('/home/r/allocation-5Fabc.pem'), '/home/r/allocation-5Fabc.known_hosts');
  assert.is(knownHostsPath('/home/r/rent'), '/home/r/rent.known_hosts');
  assert.is(sshCommandLine('127.0.0.1', 2222), 'ssh -p 2222 root@127.0.0.1');
  assert.is(sshCommandLine('127.0.0.1', 2222, '/tmp/a.known_hosts'), 'ssh -o UserKnownHostsFile=/tmp/a.known_hosts -o StrictHostKeyChecking=yes -p 2222 root@127.0.0.1');
  assert.is(shellWord("/tmp/my rentals/it's.known_hosts"), `'/tmp/my rentals/it'\\''s.known_hosts'`);
  const quoted = execFileSync('sh', ['-c', `printf %s ${shellWord("/tmp/my rentals/it's $HOME")}`], { encoding: 'utf8' });
  assert.is(quoted, "/tmp/my rentals/it's $HOME");
});

pin('the pin accepts only a pinned key and names the key it met when it refuses', () => {
  const edBlob = Buffer.from(edData!, 'base64');
  const rsaBlob = Buffer.from(rsa.line.split(' ')[1]!, 'base64');
  const p = hostPin([ed.line]);
  assert.is(p.verify(edBlob), true);
  assert.is(p.mismatch(), undefined);
  assert.is(p.verify(rsaBlob), false);
  const why = p.mismatch();
  assert.instance(why, HostKeyMismatchError);
  assert.match(why!.message, `host key mismatch: the host offered ssh-rsa ${rsa.fingerprint}, not the pinned ${ed.fingerprint}`);
  assert.throws(() => hostPin(['ssh-ed25519 x']), /host key 1: /);
});

const motd = suite('rental motd');
motd.after(() => rmSync(dir, { recursive: true, force: true }));

motd('states the rental\'s cores, memory, disk, GPUs and expiry', () => {
  const deadline = Date.UTC(2026, 11, 3, 6, 30, 0);
  const text = motdText({ cpuset: '0-1,3', memoryBytes: 4 * 1024 ** 3, diskBytes: 20 * 1024 ** 3, diskEnforced: true, gpus: 0, deadline });
  assert.match(text, /cores: +3 \(cpuset 0-1,3\)/);
  assert.match(text, /memory: +4 GiB/);
  assert.match(text, /disk: +20 GiB\n/);
  assert.match(text, /GPUs: +none/);
  assert.match(text, /expires: 2026-12-03T06:30:00Z \(UTC\)/);
  assert.match(text, /notices: \/etc\/compute-miner\/notices/);
  const loose = motdText({ cpuset: '2', memoryBytes: 512 * 1024 ** 2, diskBytes: 10 * 1024 ** 3, diskEnforced: false, gpus: 'all', deadline });
  assert.match(loose, /cores: +1 /);
  assert.match(loose, /memory: +512 MiB/);
  assert.match(loose, /disk: +10 GiB requested \(not enforced/);
  assert.match(loose, /GPUs: +all of the host/);
  assert.is(cpusetCount('0-3,6,8-9'), 7);
});

keys.run();
pin.run();
motd.run();
