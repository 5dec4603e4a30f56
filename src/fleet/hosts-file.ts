// `--hosts FILE`: the Docker hosts one miner drives. `parseHostsText` is pure (text in, hosts or
// a HostsFileError naming every problem by line and column or JSON path); `readHostsFile` is the
// thin reader that also opens each TLS file, so a wrong file is named before anything starts.
//
//   {"hosts": [{"name": "gpu-a", "engine": "tcp://10.0.0.5:2376",
//               "tls": {"ca": "ca.pem", "cert": "cert.pem", "key": "key.pem"},
//               "address": "203.0.113.5", "ssh_bind": "0.0.0.0", "ssh_ports": "4444-4459",
//               "renter_ports": "30000-30999"}]}
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { jsonSyntaxFault } from './json-syntax.js';
import { findPoolOverlaps, parsePortPool, PortPoolError, type PortPool, type PublishedPool } from '../resources/ports.js';
import { readTlsMaterial, TlsFileError, type TlsPaths } from './tls-files.js';

/** Largest hosts file read. */
export const MAX_HOSTS_FILE_BYTES = 1024 * 1024;
/** Most hosts one miner drives. */
export const MAX_HOSTS = 1000;
/** A host name: it appears in labels, logs, metrics and the Specs reply. */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** Linux sun_path holds 108 bytes with the final NUL. */
const MAX_SOCKET_PATH = 107;

export type EngineAddress = { kind: 'unix'; socketPath: string } | { kind: 'tcp'; host: string; port: number };

export interface HostEntry {
  name: string;
  /** As written in the file, for messages. */
  engineText: string;
  engine: EngineAddress;
  /** Mutual-TLS files (absolute paths); null for a unix socket or explicitly allowed plain TCP. */
  tls: TlsPaths | null;
  /** The operator asked for plain TCP without TLS (anyone who reaches the port controls the engine). */
  insecurePlainTcp: boolean;
  /** What renters SSH to. */
  address: string;
  /** Where ports are published on that host (Docker HostIp). */
  sshBind: string;
  sshPorts: PortPool;
  renterPorts: PortPool | null;
  /** The machine whose ports the host's pools take: "local" for this machine, else the engine's host. */
  machine: string;
}

export class HostsFileError extends Error {
  override name = 'HostsFileError';
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
  }
}

/** "hosts[1].ssh_ports" from zod's path. */
export function jsonPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out || '(top level)';
}

/** unix:///path or tcp://host:port, or why not. */
export function parseEngine(text: string): EngineAddress | string {
  if (text.startsWith('unix://')) {
    const socketPath = text.slice('unix://'.length);
    if (!socketPath.startsWith('/')) return 'a unix engine is unix:///absolute/path (three slashes)';
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH || socketPath.includes('\0')) return `the socket path must be at most ${MAX_SOCKET_PATH} bytes`;
    return { kind: 'unix', socketPath };
  }
  if (text.startsWith('tcp://')) {
    let url: URL;
    try { url = new URL(text); } catch { return 'not a tcp://host:port address'; }
    if (url.username || url.password || (url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) return 'a tcp engine is tcp://host:port, with nothing after the port';
    if (url.port === '') return 'a tcp engine needs its port (Docker uses 2376 for TLS)';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') return 'a tcp engine needs a host';
    return { kind: 'tcp', host, port: Number(url.port) };
  }
  return 'must be unix:///path/to/docker.sock or tcp://host:port';
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** Two engines on one machine publish into the same ports; this names the machine. */
export function engineMachine(engine: EngineAddress): string {
  if (engine.kind === 'unix' || isLoopback(engine.host)) return 'local';
  return engine.host.toLowerCase();
}

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const path = z.string({ required_error: 'required', invalid_type_error: 'must be a file path (string)' }).min(1, 'must not be empty').max(4096);
const portPoolText = z.union([z.string(), z.number().int()], {
  errorMap: (_issue, ctx) => ({ message: ctx.data === undefined ? 'required' : 'must be a port or a range/list text like "4444-4459,4470"' }),
});

const hostSchema = z.object({
  name: z.string({ required_error: 'required', invalid_type_error: 'must be a string' })
    .regex(HOST_NAME, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit'),
  engine: z.string({ required_error: 'required', invalid_type_error: 'must be a string' }),
  tls: z.object({ ca: path, cert: path, key: path }, { invalid_type_error: 'must be {"ca", "cert", "key"}' }).strict().optional(),
  insecure_plain_tcp: z.boolean({ invalid_type_error: 'must be true or false' }).optional(),
  address: z.string({ required_error: 'required', invalid_type_error: 'must be a string' })
    .refine((a) => isIP(a) !== 0 || DNS_NAME.test(a), 'must be an IP address or a DNS name renters can reach'),
  ssh_bind: z.string({ required_error: 'required', invalid_type_error: 'must be a string' })
    .refine((a) => isIP(a) !== 0, 'must be an IP address of that host (0.0.0.0 for all)'),
  ssh_ports: portPoolText,
  renter_ports: portPoolText.optional(),
}, { invalid_type_error: 'must be an object' }).strict();

const fileSchema = z.object({
  hosts: z.array(hostSchema, { required_error: 'required: the list of hosts', invalid_type_error: 'must be a list of hosts' })
    .min(1, 'must list at least one host').max(MAX_HOSTS, `at most ${MAX_HOSTS} hosts`),
}, { invalid_type_error: 'must be an object {"hosts": [...]}' }).strict();

function issueText(issue: z.ZodIssue): string {
  if (issue.code === z.ZodIssueCode.unrecognized_keys) return `${jsonPath(issue.path)}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${jsonPath(issue.path)}: ${issue.message}`;
}

/** JSON.parse, with a syntax fault located by line and column. */
function parseJson(text: string): { value: unknown } | { problem: string } {
  try {
    return { value: JSON.parse(text) };
  } catch {
    const fault = jsonSyntaxFault(text);
    return { problem: fault ? `line ${fault.line}, column ${fault.column}: not valid JSON: ${fault.message}` : 'not valid JSON' };
  }
}

export interface ParseHostsOptions {
  /** Names the file in messages. */
  source: string;
  /** Relative TLS paths are read from here: the hosts file's folder. */
  baseDir: string;
}

/** The hosts of a hosts file, checked whole; every problem found is reported at once. */
export function parseHostsText(text: string, opts: ParseHostsOptions): HostEntry[] {
  const fail = (problems: string[]): never => { throw new HostsFileError(opts.source, problems); };
  const json = parseJson(text.replace(/^\uFEFF/, ''));
  if ('problem' in json) fail([json.problem]);
  const parsed = fileSchema.safeParse((json as { value: unknown }).value);
  if (!parsed.success) fail(parsed.error.issues.map(issueText));
  const problems: string[] = [];
  const entries: HostEntry[] = [];
  const names = new Map<string, number>();
  const engines = new Map<string, number>();
  parsed.data!.hosts.forEach((raw, i) => {
    const at = `hosts[${i}]`;
    const start = problems.length;
    const engine = parseEngine(raw.engine);
    if (typeof engine === 'string') problems.push(`${at}.engine: ${engine}`);
    const previous = names.get(raw.name);
    if (previous !== undefined) problems.push(`${at}.name: "${raw.name}" is already the name of hosts[${previous}]`);
    else names.set(raw.name, i);
    const sameEngine = engines.get(raw.engine);
    // One engine listed twice would offer its cores twice.
    if (sameEngine !== undefined) problems.push(`${at}.engine: ${raw.engine} is already hosts[${sameEngine}]'s engine`);
    else engines.set(raw.engine, i);
    if (typeof engine !== 'string') {
      if (engine.kind === 'unix' && raw.tls) problems.push(`${at}.tls: only a tcp:// engine uses TLS; remove it for ${raw.engine}`);
      if (engine.kind === 'unix' && raw.insecure_plain_tcp !== undefined) problems.push(`${at}.insecure_plain_tcp: only a tcp:// engine can be plain TCP`);
      if (engine.kind === 'tcp' && raw.tls && raw.insecure_plain_tcp) problems.push(`${at}: "tls" and "insecure_plain_tcp": true contradict each other; keep one`);
      if (engine.kind === 'tcp' && !raw.tls && raw.insecure_plain_tcp !== true) {
        problems.push(`${at}.tls: required for ${raw.engine}: {"ca", "cert", "key"} for mutual TLS; plain TCP gives the engine to anyone who reaches the port (set "insecure_plain_tcp": true only on a private, trusted network)`);
      }
    }
    const pool = (value: string | number, field: string): PortPool | null => {
      try {
        return parsePortPool(String(value), `${at}.${field}`);
      } catch (err) {
        if (!(err instanceof PortPoolError)) throw err;
        problems.push(err.message);
        return null;
      }
    };
    const sshPorts = pool(raw.ssh_ports, 'ssh_ports');
    const renterPorts = raw.renter_ports === undefined ? null : pool(raw.renter_ports, 'renter_ports');
    if (problems.length > start || typeof engine === 'string' || !sshPorts) return;
    const tls = raw.tls ? {
      ca: isAbsolute(raw.tls.ca) ? raw.tls.ca : resolve(opts.baseDir, raw.tls.ca),
      cert: isAbsolute(raw.tls.cert) ? raw.tls.cert : resolve(opts.baseDir, raw.tls.cert),
      key: isAbsolute(raw.tls.key) ? raw.tls.key : resolve(opts.baseDir, raw.tls.key),
    } : null;
    entries.push({
      name: raw.name, engineText: raw.engine, engine, tls, insecurePlainTcp: raw.insecure_plain_tcp === true,
      address: raw.address, sshBind: raw.ssh_bind, sshPorts, renterPorts, machine: engineMachine(engine),
    });
  });
  if (problems.length) fail(problems);
  const pools: PublishedPool[] = [];
  entries.forEach((host, i) => {
    pools.push({ label: `hosts[${i}].ssh_ports`, machine: host.machine, bind: host.sshBind, pool: host.sshPorts });
    if (host.renterPorts) pools.push({ label: `hosts[${i}].renter_ports`, machine: host.machine, bind: host.sshBind, pool: host.renterPorts });
  });
  const overlaps = findPoolOverlaps(pools);
  if (overlaps.length) fail(overlaps.map((o) => o.message));
  return entries;
}

/** Reads, parses and checks a hosts file and every TLS file it names. Throws HostsFileError. */
export function readHostsFile(file: string): HostEntry[] {
  let text: string;
  try {
    const data = readFileSync(file);
    if (data.length > MAX_HOSTS_FILE_BYTES) throw new HostsFileError(file, [`larger than ${MAX_HOSTS_FILE_BYTES} bytes; not a hosts file`]);
    text = data.toString('utf8');
  } catch (err) {
    if (err instanceof HostsFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (code ?? String(err));
    throw new HostsFileError(file, [`cannot read the hosts file: ${why}`]);
  }
  const hosts = parseHostsText(text, { source: file, baseDir: dirname(resolve(file)) });
  const problems: string[] = [];
  hosts.forEach((host, i) => {
    if (!host.tls) return;
    try {
      readTlsMaterial(host.tls, `hosts[${i}].tls`);
    } catch (err) {
      if (!(err instanceof TlsFileError)) throw err;
      problems.push(err.message);
    }
  });
  if (problems.length) throw new HostsFileError(file, problems);
  return hosts;
}
