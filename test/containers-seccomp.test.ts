// The rentals' seccomp profile as data: the file in the repo parses, has the shape Docker's daemon
// loads, refuses what newer Docker releases refuse (io_uring, AF_VSOCK, AF_ALG, 32-bit socketcall)
// and raw and packet sockets with any capabilities, compares socket families on the kernel's 32
// bits, and still allows what Docker's default allows to a rental's capabilities.
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
const SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_RAW = 3, SOCK_RDM = 4, SOCK_SEQPACKET = 5, SOCK_PACKET = 10, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
/** A bit above the 32 the kernel reads of an int argument. */
const HIGH = 1n << 32n;

/**
 * What the profile does to one call on x86_64 with the rental's capabilities, as Docker filters
 * and libseccomp matches it: every comparison of a rule on the full 64-bit argument.
 */
function verdict(p: SeccompProfile, name: string, ...argv: Array<number | bigint>): 'allow' | 'errno' {
  const caps = new Set(RENTAL_CAPABILITIES.map((c) => `CAP_${c}`));
  const applies = (r: SeccompRule) => {
    if (r.excludes?.arches?.includes('amd64')) return false;
    if (r.excludes?.caps?.some((c) => caps.has(c))) return false;
    if (r.includes?.arches?.length && !r.includes.arches.includes('amd64')) return false;
    if (r.includes?.caps?.length && !r.includes.caps.every((c) => caps.has(c))) return false;
    return true;
  };
  const argsMatch = (r: SeccompRule) => (r.args ?? []).every((a) => {
    const given = argv[a.index];
    if (given === undefined) return false;
    const arg = BigInt(given);
    const value = BigInt(a.value);
    switch (a.op) {
      case 'SCMP_CMP_EQ': return arg === value;
      case 'SCMP_CMP_NE': return arg !== value;
      case 'SCMP_CMP_LT': return arg < value;
      case 'SCMP_CMP_GT': return arg > value;
      case 'SCMP_CMP_MASKED_EQ': return (arg & value) === BigInt(a.valueTwo ?? 0);
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
  for (const type of [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET]) {
    assert.is(verdict(p, 'socket', AF_VSOCK, type), 'errno');
    assert.is(verdict(p, 'socket', AF_ALG, type), 'errno');
    // The kernel reads the family as a 32-bit int: bits above it must not open a way round.
    assert.is(verdict(p, 'socket', HIGH | BigInt(AF_VSOCK), type), 'errno');
    assert.is(verdict(p, 'socket', HIGH | BigInt(AF_ALG), type), 'errno');
    assert.is(verdict(p, 'socket', HIGH | BigInt(AF_PACKET), type), 'errno');
  }
  const refusals = p.syscalls.filter((r) => r.action === 'SCMP_ACT_ERRNO' && r.errnoRet === 1);
  assert.ok(refusals.some((r) => r.names!.includes('io_uring_setup') && /Docker 25\.0, moby\/moby#46762/.test(r.comment ?? '')));
  assert.ok(refusals.some((r) => r.names!.includes('socketcall') && /Docker 29\.4\.2, moby\/moby#52494/.test(r.comment ?? '')));
  const socketRules = p.syscalls.filter((r) => r.names?.includes('socket'));
  assert.ok(socketRules.length > 0);
  for (const r of socketRules) {
    assert.match(r.comment ?? '', /AF_VSOCK \(40; Docker 23\.0, moby\/moby#44562\)/);
    // Only masked comparisons whose mask keeps the upper 32 bits out.
    for (const a of r.args ?? []) assert.ok(a.op === 'SCMP_CMP_MASKED_EQ' && a.value <= 0xffffffff, JSON.stringify(a));
  }
  assert.equal(SECCOMP_ADDITIONS.map((a) => a.docker), ['25.0', '23.0', '29.4.2', '29.4.2', null, null]);
});

test('seccomp profile: no raw or packet socket, whatever the capabilities (a build step keeps NET_RAW)', () => {
  const p = profile();
  assert.is(verdict(p, 'socket', AF_PACKET, SOCK_RAW), 'errno');
  assert.is(verdict(p, 'socket', AF_PACKET, SOCK_DGRAM), 'errno');
  for (const family of [AF_INET, AF_INET6]) {
    assert.is(verdict(p, 'socket', family, SOCK_RAW), 'errno', `raw ${family}`);
    assert.is(verdict(p, 'socket', family, SOCK_RAW | SOCK_CLOEXEC), 'errno', `raw ${family} with flags`);
    assert.is(verdict(p, 'socket', family, SOCK_PACKET), 'errno', `packet ${family}`);
    assert.is(verdict(p, 'socket', family, SOCK_RDM), 'errno', `rdm ${family}`);
    for (const type of [SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC]) {
      assert.is(verdict(p, 'socket', family, type), 'allow', `family ${family} type ${type}`);
    }
  }
  // Upper bits on an allowed family only ever select that family: the kernel drops them.
  assert.is(verdict(p, 'socket', HIGH | BigInt(AF_INET), SOCK_STREAM), 'allow');
});

test('seccomp profile: what Docker\'s default allows a rental still passes', () => {
  const p = profile();
  for (const family of [AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, 39, 41, AF_XDP]) {
    for (const type of [SOCK_STREAM, SOCK_DGRAM]) assert.is(verdict(p, 'socket', family, type), 'allow', `socket family ${family} type ${type}`);
  }
  assert.is(verdict(p, 'socket', AF_NETLINK, SOCK_RAW), 'allow', 'netlink sockets are SOCK_RAW and need no capability');
  for (const call of ['read', 'write', 'openat', 'execve', 'mmap', 'futex', 'epoll_wait', 'io_setup', 'io_submit', 'fsync', 'setuid', 'chroot', 'clone', 'clone3', 'bind', 'connect', 'sendmsg']) {
    const expected = call === 'clone3' ? 'errno' : 'allow'; // clone3 answers ENOSYS so glibc falls back to clone, as in Docker's default
    assert.is((call === 'clone' ? verdict(p, call, 0x11) : verdict(p, call)), expected, call);
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
