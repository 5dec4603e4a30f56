// The seccomp profile every rental runs under, kept as data in seccomp-profile.json: Docker's
// default profile as Debian ships it with Docker 20.10.24, plus the rules later Docker releases
// added and two of the project's own (all listed in SECCOMP_ADDITIONS and in the rules' own
// comments): socket families are compared on the 32 bits the kernel reads, and raw and packet
// sockets are refused whatever the capabilities. This file loads it, checks
// it has the shape Docker's daemon accepts, and turns it into the `SecurityOpt` the CLI sends.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Source-tree path, as version.ts finds package.json: dist/src/containers → src/containers. */
export const SECCOMP_PROFILE_URL = new URL('../../../src/containers/seccomp-profile.json', import.meta.url);

/** What the profile changes against Debian's Docker 20.10.24 default, and the Docker release each comes from. */
export const SECCOMP_ADDITIONS = [
  { refused: 'io_uring_setup, io_uring_enter, io_uring_register', docker: '25.0', change: 'moby/moby#46762' },
  { refused: 'socket(AF_VSOCK = 40)', docker: '23.0', change: 'moby/moby#44562' },
  { refused: 'socket(AF_ALG = 38)', docker: '29.4.2', change: 'moby/moby#52494' },
  { refused: 'socketcall (32-bit multiplexer)', docker: '29.4.2', change: 'moby/moby#52494 (later replaced by AppArmor, moby/moby#52547)' },
  // The project's own: Docker's rules compare all 64 bits of an argument the kernel reads as 32.
  { refused: 'socket() families compared on their low 32 bits (socket(0x100000028) was AF_VSOCK)', docker: null, change: 'this profile' },
  { refused: 'socket(AF_PACKET = 17), SOCK_RAW and SOCK_PACKET of AF_INET/AF_INET6, whatever the capabilities (a build step keeps NET_RAW)', docker: null, change: 'this profile' },
] as const;

export interface SeccompArg { index: number; value: number; valueTwo?: number; op: string }
export interface SeccompFilter { caps?: string[]; arches?: string[]; minKernel?: string }
export interface SeccompRule {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  comment?: string;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
}
export interface SeccompProfile {
  defaultAction: string;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures: string[] | null }>;
  syscalls: SeccompRule[];
}

const ACTIONS = new Set(['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG']);
const OPS = new Set(['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0);
const whole = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;

function filterProblem(f: unknown, where: string): string | null {
  if (f === undefined) return null;
  if (!isObject(f)) return `${where} must be an object`;
  if (f.caps !== undefined && !(isStrings(f.caps) && f.caps.every((c) => c.startsWith('CAP_')))) return `${where}.caps must be CAP_* names`;
  if (f.arches !== undefined && !isStrings(f.arches)) return `${where}.arches must be architecture names`;
  if (f.minKernel !== undefined && !(typeof f.minKernel === 'string' && /^\d+\.\d+$/.test(f.minKernel))) return `${where}.minKernel must read like "4.8"`;
  return null;
}

/**
 * Why `p` is not a profile Docker's daemon (20.10 and later) would load, or null. Mirrors the
 * daemon's own checks: a known default action, `architectures` or `archMap` but not both, each
 * rule naming syscalls by `name` or `names` (not both), known actions and comparison operators.
 */
export function seccompProfileProblem(p: unknown): string | null {
  if (!isObject(p)) return 'the profile must be a JSON object';
  if (typeof p.defaultAction !== 'string' || !ACTIONS.has(p.defaultAction)) return `unknown defaultAction ${JSON.stringify(p.defaultAction)}`;
  if (p.architectures !== undefined && p.archMap !== undefined) return "'architectures' and 'archMap' were both given";
  if (p.archMap !== undefined) {
    if (!Array.isArray(p.archMap)) return 'archMap must be a list';
    for (const a of p.archMap) {
      if (!isObject(a) || typeof a.architecture !== 'string' || !a.architecture.startsWith('SCMP_ARCH_')) return 'archMap entries need an SCMP_ARCH_* architecture';
      if (a.subArchitectures !== null && a.subArchitectures !== undefined && !isStrings(a.subArchitectures)) return 'subArchitectures must be a list of SCMP_ARCH_* names';
    }
  }
  if (!Array.isArray(p.syscalls) || p.syscalls.length === 0) return 'syscalls must be a non-empty list';
  for (const [i, r] of p.syscalls.entries()) {
    const where = `syscalls[${i}]`;
    if (!isObject(r)) return `${where} must be an object`;
    if (r.name !== undefined && r.names !== undefined) return `${where}: 'name' and 'names' were both given`;
    if (!(typeof r.name === 'string' && r.name.length > 0) && !(isStrings(r.names) && r.names.length > 0)) return `${where} names no syscall`;
    if (typeof r.action !== 'string' || !ACTIONS.has(r.action)) return `${where}: unknown action ${JSON.stringify(r.action)}`;
    if (r.errnoRet !== undefined && !whole(r.errnoRet, 4095)) return `${where}: errnoRet must be an errno number`;
    if (r.args !== undefined && r.args !== null) {
      if (!Array.isArray(r.args)) return `${where}.args must be a list`;
      for (const a of r.args) {
        if (!isObject(a) || !whole(a.index, 5) || !whole(a.value) || (a.valueTwo !== undefined && !whole(a.valueTwo))) return `${where}.args: index 0-5 and whole values`;
        if (typeof a.op !== 'string' || !OPS.has(a.op)) return `${where}.args: unknown op ${JSON.stringify(a.op)}`;
      }
    }
    const problem = filterProblem(r.includes, `${where}.includes`) ?? filterProblem(r.excludes, `${where}.excludes`);
    if (problem) return problem;
  }
  return null;
}

/** The profile file, for the rental daemon's own default (`dockerd --seccomp-profile`). */
export const seccompProfilePath = (): string => fileURLToPath(SECCOMP_PROFILE_URL);

let compact: string | undefined;

/** The profile as compact JSON text, read and checked once; a broken file is an error at the first container. */
export function rentalSeccompProfile(): string {
  if (compact === undefined) {
    const text = readFileSync(SECCOMP_PROFILE_URL, 'utf8');
    const parsed = JSON.parse(text) as unknown;
    const problem = seccompProfileProblem(parsed);
    if (problem) throw new Error(`${SECCOMP_PROFILE_URL.pathname}: ${problem}`);
    compact = JSON.stringify(parsed);
  }
  return compact;
}

/** `HostConfig.SecurityOpt` entry for a profile, as `docker run --security-opt seccomp=<file>` sends it: the JSON itself. */
export function seccompSecurityOpt(profileJson: string = rentalSeccompProfile()): string {
  return `seccomp=${profileJson}`;
}
