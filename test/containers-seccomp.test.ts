// The rentals' seccomp profile as data: the file in the repo parses, has the shape Docker's daemon
// loads, refuses what newer Docker releases refuse (io_uring, AF_VSOCK, AF_ALG, 32-bit socketcall)
// and still allows what Docker's default allows to a rental's capabilities.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { RENTAL_CAPABILITIES } from '../src/containers/options.js';
import {
  rentalSeccompProfile, SECCOMP_ADDITIONS, SECCOMP_PROFILE_URL, seccompProfileProblem, seccompSecurityOpt,
  type SeccompProfile, type SeccompRule,
} from '../src/containers/seccomp.js';

const profile = (): SeccompProfile => JSON.parse(readFileSync(SECCOMP_PROFILE_URL, 'utf8')) as SeccompProfile;
const AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10, AF_NETLINK = 16, AF_PACKET = 17, AF_ALG = 38, AF_VSOCK = 40, AF_XDP = 44;

/** What the profile does to one call on x86_64 with the rental's capabilities, as Docker filters and libseccomp matches it. */
function verdict(p: SeccompProfile, name: string, arg0?: number): 'allow' | 'errno' {
  const caps = new Set(RENTAL_CAPABILITIES.map((c) => `CAP_${c}`));
  const applies = (r: SeccompRule) => {
    if (r.excludes?.arches?.includes('amd64')) return false;
    if (r.excludes?.caps?.some((c) => caps.has(c))) return false;
    if (r.includes?.arches?.length && !r.includes.arches.includes('amd64')) return false;
    if (r.includes?.caps?.length && !r.includes.caps.every((c) => caps.has(c))) return false;
    return true;
  };
  const argsMatch = (r: SeccompRule) => (r.args ?? []).every((a) => {
    if (a.index !== 0 || arg0 === undefined) return false;
    switch (a.op) {
      case 'SCMP_CMP_EQ': return arg0 === a.value;
      case 'SCMP_CMP_NE': return arg0 !== a.value;
      case 'SCMP_CMP_LT': return arg0 < a.value;
      case 'SCMP_CMP_GT': return arg0 > a.value;
      case 'SCMP_CMP_MASKED_EQ': return (arg0 & a.value) === (a.valueTwo ?? 0);
      default: return false;
    }
  });
  const matching = p.syscalls.filter((r) => applies(r) && (r.names ?? [r.name]).includes(name) && argsMatch(r));
  if (matching.some((r) => r.action === 'SCMP_ACT_ERRNO')) return 'errno';
  if (matching.some((r) => r.action === 'SCMP_ACT_ALLOW')) return 'allow';
  return p.defaultAction === 'SCMP_ACT_ALLOW' ? 'allow' : 'errno';
}

test('seccomp profile: the repo file parses and has the shape Docker accepts', () => {
  const p = profile();
  assert.is(seccompProfileProblem(p), null);
  assert.is(p.defaultAction, 'SCMP_ACT_ERRNO');
  // Docker refuses a profile naming both; this one uses archMap, with x86_64 and its 32-bit ABI.
  assert.is(p.architectures, undefined);
  assert.equal(p.archMap![0], { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] });
  // What the daemon would refuse is caught here.
  assert.match(seccompProfileProblem({ ...p, architectures: ['SCMP_ARCH_X86_64'] }) ?? '', /both/);
  assert.match(seccompProfileProblem({ ...p, defaultAction: 'SCMP_ACT_MAYBE' }) ?? '', /defaultAction/);
  assert.match(seccompProfileProblem({ ...p, syscalls: [{ name: 'read', names: ['read'], action: 'SCMP_ACT_ALLOW' }] }) ?? '', /name/);
  assert.match(seccompProfileProblem({ ...p, syscalls: [{ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ABOUT' }] }] }) ?? '', /op/);
  assert.match(seccompProfileProblem({ ...p, syscalls: [] }) ?? '', /non-empty/);
});

test('seccomp profile: io_uring, AF_VSOCK, AF_ALG and 32-bit socketcall are refused, each rule citing its Docker release', () => {
  const p = profile();
  for (const call of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'socketcall']) assert.is(verdict(p, call), 'errno', call);
  assert.is(verdict(p, 'socket', AF_VSOCK), 'errno');
  assert.is(verdict(p, 'socket', AF_ALG), 'errno');
  const refusals = p.syscalls.filter((r) => r.action === 'SCMP_ACT_ERRNO' && r.errnoRet === 1);
  assert.ok(refusals.some((r) => r.names!.includes('io_uring_setup') && /Docker 25\.0, moby\/moby#46762/.test(r.comment ?? '')));
  assert.ok(refusals.some((r) => r.names!.includes('socketcall') && /Docker 29\.4\.2, moby\/moby#52494/.test(r.comment ?? '')));
  const socketRules = p.syscalls.filter((r) => r.names?.includes('socket'));
  assert.is(socketRules.length, 3);
  for (const r of socketRules) assert.match(r.comment ?? '', /AF_VSOCK \(40; Docker 23\.0, moby\/moby#44562\)/);
  assert.equal(SECCOMP_ADDITIONS.map((a) => a.docker), ['25.0', '23.0', '29.4.2', '29.4.2']);
});

test('seccomp profile: what Docker\'s default allows a rental still passes', () => {
  const p = profile();
  for (const family of [AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, 39, 41, AF_XDP]) assert.is(verdict(p, 'socket', family), 'allow', `socket family ${family}`);
  for (const call of ['read', 'write', 'openat', 'execve', 'mmap', 'futex', 'epoll_wait', 'io_setup', 'io_submit', 'fsync', 'setuid', 'chroot', 'clone', 'clone3', 'bind', 'connect', 'sendmsg']) {
    const expected = call === 'clone3' ? 'errno' : 'allow'; // clone3 answers ENOSYS so glibc falls back to clone, as in Docker's default
    assert.is(verdict(p, call, call === 'clone' ? 0x11 : undefined), expected, call);
  }
  // Still refused as in Docker's default: no capability for them.
  for (const call of ['mount', 'unshare', 'setns', 'bpf', 'kexec_load', 'keyctl', 'add_key', 'init_module']) assert.is(verdict(p, call), 'errno', call);
});

test('seccomp profile: sent as the Docker CLI sends it, compact JSON after seccomp=', () => {
  const text = rentalSeccompProfile();
  assert.not.match(text, /\n/);
  assert.equal(JSON.parse(text), profile());
  assert.is(seccompSecurityOpt(), `seccomp=${text}`);
  assert.is(seccompSecurityOpt('{"defaultAction":"SCMP_ACT_ALLOW"}'), 'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}');
});

test.run();
