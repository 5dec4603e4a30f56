// The renter's side of Allocate: the private key file that proves who holds an allocation,
// the requests for renting, releasing and acting on a container, and reading their answers.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { fileErrorWords } from '../errno-words.js';
import {
  allocateResponseSchema, parseWith, rsaPublicKeyProblem, sshPublicKeyProblem, type AllocateResponse,
} from '../../protocol/index.js';
import type { DeviceRequirement } from './device.js';

/** The renter's RSA key as read from its file: the private PEM and the public PEM derived from it. */
export interface RenterKey {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A file's text, or a one-line reason naming `what` could not be read. */
function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${fileErrorWords(err)}`);
  }
}

/** Reads a PEM private key file and derives the public key sent to the miner; throws a one-line reason. */
export function readRenterKey(path: string): RenterKey {
  const text = readText(path, 'the key file');
  let publicKeyPem: string;
  try {
    publicKeyPem = createPublicKey(createPrivateKey({ key: text, format: 'pem' })).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    throw new Error(`${path} is not a PEM private key (the file "validator allocate" wrote)`);
  }
  const problem = rsaPublicKeyProblem(publicKeyPem);
  if (problem) throw new Error(`${path}: ${problem}`);
  return { privateKeyPem: text, publicKeyPem };
}

/** Writes a new private key file with mode 0600; never overwrites an existing file (it may hold a live allocation). */
export function writeRenterKey(path: string, privateKeyPem: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new Error(`${path} already exists; it may hold another allocation's key (choose another --key-out)`);
    throw new Error(`cannot create ${path}: ${fileErrorWords(err)}`);
  }
  try {
    writeSync(fd, privateKeyPem);
  } finally {
    closeSync(fd);
  }
}

/** Names tried for a new default key file before giving up (allocation-x.pem, allocation-x-2.pem, …). */
export const MAX_DEFAULT_KEY_NAMES = 1000;

/**
 * Writes a new private key file in `dir` under the first free name of `stem`.pem, `stem`-2.pem,
 * … and returns its path, so each rental from the same miner gets its own file with no flag.
 * A name whose known_hosts file is still there is skipped: it pins another rental's host.
 */
export function writeNewRenterKey(dir: string, stem: string, privateKeyPem: string): string {
  for (let n = 1; n <= MAX_DEFAULT_KEY_NAMES; n++) {
    const path = join(dir, `${stem}${n === 1 ? '' : `-${n}`}.pem`);
    if (existsSync(path) || existsSync(`${path.slice(0, -'.pem'.length)}.known_hosts`)) continue;
    try {
      writeRenterKey(path, privateKeyPem);
      return path;
    } catch (err) {
      if (existsSync(path)) continue; // made meanwhile by another allocate
      throw err;
    }
  }
  throw new Error(`${join(dir, stem)}.pem and ${MAX_DEFAULT_KEY_NAMES - 1} numbered names after it are taken; choose a file with --key-out`);
}

/**
 * The identity file for `ssh -i` that goes with the public key given to --ssh-key: the
 * private key beside it (id_ed25519.pub → id_ed25519) when it is there, else the file as
 * given (ssh then finds the private half in the agent).
 */
export function identityFileOf(publicKeyPath: string): string {
  const given = resolve(publicKeyPath);
  const beside = given.replace(/\.pub$/, '');
  return beside !== given && existsSync(beside) ? beside : given;
}

/** Reads one OpenSSH public key line from a file; throws a one-line reason. */
export function readSshPublicKey(path: string): string {
  const line = readText(path, 'the SSH key').trim();
  if (line.includes('PRIVATE KEY')) throw new Error(`${path} is a private key; give the public one (e.g. ~/.ssh/id_ed25519.pub)`);
  const problem = sshPublicKeyProblem(line);
  if (problem) throw new Error(`${path}: ${problem}`);
  return line;
}

export interface RentRequest {
  device: DeviceRequirement;
  days: number;
  publicKeyPem: string;
  sshKey: string;
}

export function allocateRequest(r: RentRequest): Record<string, unknown> {
  return {
    checking: false,
    timeline: r.days,
    device_requirement: { ...r.device, testing: false },
    public_key: r.publicKeyPem,
    docker_requirement: { ssh_key: r.sshKey },
  };
}

export function releaseRequest(publicKeyPem: string): Record<string, unknown> {
  return { checking: false, timeline: 0, public_key: publicKeyPem };
}

export type ContainerAction = 'pause' | 'resume' | 'restart';

export function actionRequest(publicKeyPem: string, action: ContainerAction): Record<string, unknown> {
  return { checking: false, timeline: 0, public_key: publicKeyPem, docker_change: true, docker_action: { action } };
}

export function exchangeKeyRequest(publicKeyPem: string, sshKey: string, keyType: 'user' | 'terminal'): Record<string, unknown> {
  return {
    checking: false, timeline: 0, public_key: publicKeyPem, docker_change: true,
    docker_action: { action: 'exchange_key', ssh_key: sshKey, key_type: keyType },
  };
}

/** The Allocate output of a reply, or an Error saying why there is none. */
export function allocateOutput(reply: { code: number; message: string; body?: unknown }): AllocateResponse['output'] {
  if (reply.code !== 200) throw new Error(`miner answered ${reply.code}: ${reply.message}`);
  const parsed = parseWith(allocateResponseSchema, reply.body);
  if (!parsed.ok) throw new Error(`miner's Allocate reply does not match the protocol: ${parsed.message}`);
  return parsed.value.output;
}

/** The host of a miner's axon URL, where its SSH port is published too (IPv6 without brackets). */
export function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

// Loopback, private, link-local, shared (CGNAT) and unspecified ranges: where a miner reached on
// a public address must not send a validator's SSH (it would probe the validator's own network).
const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv6');

/** Whether an address literal is loopback, private, link-local or unspecified (IPv4-mapped IPv6 as its IPv4). */
export function isNonPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return NOT_PUBLIC.check(mapped, 'ipv4');
  const family = isIP(address);
  if (family === 0) return false;
  return NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const HOST_NAME = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/;

/**
 * Where to SSH to a rental: the reply's `host` when the miner names one (it fronts several
 * machines), else the axon's host. The named host must be an IP address or a DNS name; a miner
 * on a public address may not point at a loopback or private address.
 */
export function rentalHost(url: string, named: string | undefined): string {
  const axon = hostOf(url);
  if (named === undefined) return axon;
  const host = named.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0 && !HOST_NAME.test(host)) throw new Error(`the miner's host ${JSON.stringify(named.slice(0, 80))} is neither an IP address nor a host name`);
  const local = (h: string) => isNonPublicAddress(h) || /^localhost\.?$/i.test(h);
  if (local(host) && !local(axon)) {
    throw new Error(`the miner at ${axon} names a non-public SSH host ${host}: refused, it would reach into this machine's own network`);
  }
  return host;
}

/** A word as a POSIX shell reads it back unchanged (single quotes unless it is plain). */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * `ssh -p PORT root@HOST`, with IPv6 hosts as they must be typed; with a known_hosts file of the
 * rental's pinned host keys, ssh accepts only those (and no "host key has changed" refusal
 * arises from an earlier rental on the same host:port); with `identityFile`, `-i` logs in with
 * the key installed for root.
 */
export function sshCommandLine(host: string, port: number, knownHostsFile?: string, identityFile?: string): string {
  const pin = knownHostsFile === undefined ? '' : `-o UserKnownHostsFile=${shellWord(knownHostsFile)} -o StrictHostKeyChecking=yes `;
  const identity = identityFile === undefined ? '' : `-i ${shellWord(identityFile)} `;
  return `ssh ${pin}${identity}-p ${port} root@${host}`;
}
