// `validator allocate|release|pause|resume|restart|exchange-key`: rent a container from a
// miner and manage it with the RSA key file that proves the renter holds it.
import { unlinkSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-file.js';
import { resolve } from 'node:path';
import { MAX_CPU_COUNT, MAX_TIMELINE_DAYS, MIN_RAM_BYTES, Status } from '../../protocol/index.js';
import { decryptAllocationInfo, generateRenterKeyPair } from '../validator/credentials.js';
import type { Dendrite, DendriteReply } from '../validator/dendrite.js';
import { knownHostsPath, knownHostsText } from '../validator/host-pin.js';
import {
  actionRequest, allocateOutput, allocateRequest, exchangeKeyRequest, identityFileOf, readRenterKey, rentalHost, readSshPublicKey, releaseRequest,
  shellWord, sshCommandLine, writeNewRenterKey, writeRenterKey, type ContainerAction,
} from '../validator/rent.js';
import { isBusyAnswer, isNoRentalAnswer } from '../validator/refusals.js';
import { BusyError } from './exit-codes.js';
import { formatSize, parseSize } from '../validator/sizes.js';
import { COMMON_USAGE, minerUrl, openDendrite, parseValidatorArgs, printJson, replyError, type CommonValues } from './validator-common.js';
import type { OptionSpec } from '../args.js';
import { humanBytes, humanizeByteCounts } from '../units.js';
import { hostKeysOf, rentalRecords, sshFingerprint } from '../validator/rental-records.js';
import { UsageError } from './usage.js';

/** Allocate may build the renter's image; other actions are quick. */
const DEFAULT_ALLOCATE_TIMEOUT_SECONDS = 120;
const DEFAULT_ACTION_TIMEOUT_SECONDS = 60;

const TIMEOUT_USAGE = '  --timeout S           seconds to wait for the miner';

function parse<O extends OptionSpec>(argv: string[], options: O) {
  return parseValidatorArgs(argv, { ...options, timeout: { type: 'string' } } as O & { timeout: { type: 'string' } });
}

function oneUrl(command: string, positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(`validator ${command} takes exactly one miner URL`);
  return minerUrl(positionals[0]);
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

function positiveNumber(value: string | undefined, flag: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) throw new UsageError(`${flag} must be a number > 0 and ≤ ${max}, not ${JSON.stringify(value)}`);
  return n;
}

function size(value: string | undefined, flag: string, min: number): number {
  let bytes: number;
  try {
    bytes = parseSize(required(value, flag));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
  if (bytes < min) throw new UsageError(`${flag} must be at least ${humanBytes(min)}`);
  return bytes;
}

function gpu(value: string | undefined): Record<string, unknown> {
  if (value === undefined || value === '0') return {};
  if (value === 'all') return { count: 'all' };
  if (!/^\d+$/.test(value) || Number(value) > 1024) throw new UsageError(`--gpu must be a count or "all", not ${JSON.stringify(value)}`);
  return { count: Number(value) };
}

/** Usage errors from reading files: the user named a wrong file. */
function fromFile<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\s*\n\s*/g, ' ')); // one line
  }
}

/** The release command for `keyPath`, with the flags that reach the same miner as the same validator. */
export function releaseCommandLine(url: string, keyPath: string, values: CommonValues): string {
  const hotkey = values.hotkey === undefined ? '' : ` --hotkey ${shellWord(resolve(values.hotkey))}`;
  const axon = values['axon-hotkey'] === undefined ? '' : ` --axon-hotkey ${values['axon-hotkey']}`;
  return `compute-miner validator release ${url} --key ${shellWord(keyPath)}${hotkey}${axon}`;
}

/** A domain refusal (status false) in words; "no room now" is a BusyError (exit 6). */
function refusedError(error: string | undefined): Error {
  const why = humanizeByteCounts(error ?? 'no reason given');
  return isBusyAnswer(error ?? '') ? new BusyError(`the miner refused: ${why} (it is busy: try again later)`) : new Error(`the miner refused: ${why}`);
}

async function withDendrite<T>(url: string, values: CommonValues, timeoutSeconds: number, work: (d: Dendrite) => Promise<T>): Promise<T> {
  const dendrite = openDendrite(url, values, timeoutSeconds * 1000);
  try {
    return await work(dendrite);
  } finally {
    await dendrite.close();
  }
}

const ALLOCATE_USAGE = `Usage: compute-miner validator allocate URL --cpu N --ram SIZE --disk SIZE --days D --ssh-key FILE [options]
  --cpu N               CPU cores
  --ram SIZE            memory, e.g. 512m, 4g (base 1024)
  --disk SIZE           disk, e.g. 20g, 100g
  --gpu N|all           GPUs [none]
  --days D              rental length in days (fractions allowed, e.g. 0.5)
  --ssh-key FILE        your OpenSSH public key, installed for root (e.g. ~/.ssh/id_ed25519.pub)
  --key-out FILE        where to keep the allocation's private RSA key, mode 0600
                        [./allocation-<first 8 characters of the miner's hotkey>.pem, or
                        -2.pem, -3.pem… when taken]; the rental's pinned SSH host keys go
                        beside it (same name, .known_hosts)
${TIMEOUT_USAGE} [${DEFAULT_ALLOCATE_TIMEOUT_SECONDS}]
${COMMON_USAGE}
`;

export async function runAllocate(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    cpu: { type: 'string' }, ram: { type: 'string' }, disk: { type: 'string' }, gpu: { type: 'string' },
    days: { type: 'string' }, 'ssh-key': { type: 'string' }, 'key-out': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(ALLOCATE_USAGE);
    return 0;
  }
  const url = oneUrl('allocate', positionals);
  const cpu = Number(required(values.cpu, '--cpu'));
  if (!Number.isInteger(cpu) || cpu < 1 || cpu > MAX_CPU_COUNT) throw new UsageError(`--cpu must be a whole number of cores from 1 to ${MAX_CPU_COUNT}, not ${JSON.stringify(values.cpu)}`);
  const device = {
    cpu: { count: cpu },
    ram: { capacity: size(values.ram, '--ram', MIN_RAM_BYTES) },
    hard_disk: { capacity: size(values.disk, '--disk', 1) },
    gpu: gpu(values.gpu),
  };
  const days = positiveNumber(required(values.days, '--days'), '--days', 0, MAX_TIMELINE_DAYS);
  const sshKey = fromFile(() => readSshPublicKey(required(values['ssh-key'], '--ssh-key')));
  const identityFile = identityFileOf(values['ssh-key']!);
  const timeout = positiveNumber(values.timeout, '--timeout', DEFAULT_ALLOCATE_TIMEOUT_SECONDS);

  return withDendrite(url, values, timeout, async (dendrite) => {
    await dendrite.connect(); // learns the miner's hotkey, which names the key file
    const keys = generateRenterKeyPair();
    // The key is on disk before the request leaves: whatever happens next, it can release.
    const keyOut = values['key-out'];
    const keyPath = fromFile(() => {
      if (keyOut === undefined) return writeNewRenterKey(process.cwd(), `allocation-${dendrite.axonHotkey!.slice(0, 8)}`, keys.privateKeyPem);
      writeRenterKey(resolve(keyOut), keys.privateKeyPem);
      return resolve(keyOut);
    });
    const releaseHint = `release it with "${releaseCommandLine(url, keyPath, values)}"`;
    let reply: DendriteReply;
    try {
      reply = await dendrite.call('Allocate', allocateRequest({ device, days, publicKeyPem: keys.publicKeyPem, sshKey }), { timeoutSeconds: timeout });
    } catch (err) {
      throw new Error(`${(err as Error).message}; the miner may still have allocated: ${releaseHint}`);
    }
    // A 408 or 500 comes after the handler started, so a container may exist; every other
    // refusal (hotkey, rate, queue, request) comes before anything is done.
    if (reply.code !== Status.OK && reply.code !== Status.TIMEOUT && reply.code !== Status.INTERNAL) {
      unlinkSync(keyPath); // nothing holds this key
      throw replyError(reply, dendrite.dendriteHotkey);
    }
    let output;
    try {
      output = allocateOutput(reply);
    } catch (err) {
      throw new Error(`${(err as Error).message}; the miner may still have allocated: ${releaseHint}`);
    }
    const raw = (reply.body as { output?: unknown } | undefined)?.output;
    if (!output.status) {
      unlinkSync(keyPath); // nothing holds this key
      throw refusedError(output.error);
    }
    if (output.info === undefined) throw new Error(`the miner allocated but sent no credentials; ${releaseHint}`);
    const credentials = decryptAllocationInfo(output.info, keys.privateKeyPem);
    let host: string;
    try {
      host = rentalHost(url, output.host);
    } catch (err) {
      throw new Error(`${(err as Error).message}; ${releaseHint}`);
    }
    const ports = output.ports ?? {};
    // The host keys of the signed reply, pinned beside the key file for ssh to check.
    let pinned = `the miner sent no host keys: the rental's host is not pinned\n`;
    let knownHosts: string | undefined;
    if (output.host_keys && output.host_keys.length > 0) {
      knownHosts = knownHostsPath(keyPath);
      let text: string;
      try {
        text = knownHostsText(host, credentials.port, output.host_keys);
      } catch (err) {
        throw new Error(`the miner's host_keys are not OpenSSH host keys (${(err as Error).message}); ${releaseHint}`);
      }
      fromFile(() => writeFileAtomic(knownHosts!, text, 0o600));
      pinned = `known hosts: ${knownHosts} (the rental's host key, from the miner's signed reply)\n`;
    }
    const allocatedAt = new Date();
    const hostKeys = hostKeysOf(raw);
    const record = {
      version: 1 as const, miner: url, minerHotkey: dendrite.axonHotkey!, host, port: credentials.port, keyFile: keyPath,
      allocatedAt: allocatedAt.toISOString(), deadline: new Date(allocatedAt.getTime() + days * 86_400_000).toISOString(),
      cpu, ramBytes: device.ram.capacity, diskBytes: device.hard_disk.capacity, gpu: (device.gpu as { count?: number | 'all' }).count ?? 0,
      ...(hostKeys ? { hostKeys } : {}),
      ...(Object.keys(ports).length > 0 ? { ports } : {}),
      identityFile,
    };
    // Remembered for "validator rentals"; a failure here must not lose the rental's credentials.
    let remembered = true;
    try {
      rentalRecords().save(record);
    } catch {
      remembered = false;
    }
    if (values.json) {
      printJson({ ...record, ssh: sshCommandLine(host, credentials.port, knownHosts, identityFile), ...(knownHosts ? { knownHostsFile: knownHosts } : {}), password: credentials.password, hostKeyFingerprints: hostKeys?.map(sshFingerprint) ?? [] });
      return 0;
    }
    process.stdout.write(
      `allocated: ${cpu} CPU, ${humanBytes(device.ram.capacity)} RAM, ${humanBytes(device.hard_disk.capacity)} disk for ${days} day(s) on ${dendrite.axonHotkey}\n` +
      `key file: ${keyPath} (keep it: it releases and manages the container)\n` +
      pinned +
      `${sshCommandLine(host, credentials.port, knownHosts, identityFile)}\n` +
      `password: ${credentials.password}\n` +
      Object.entries(ports).map(([inside, published]) => `port ${inside} of the container: ${host}:${published}\n`).join(''),
    );
    if (!remembered) process.stderr.write('note: this rental could not be recorded for "validator rentals"\n');
    return 0;
  });
}

const keyUsage = (command: string, extra = '') => `Usage: compute-miner validator ${command} URL --key FILE [options]
  --key FILE            the private key file "validator allocate" wrote
${extra}${TIMEOUT_USAGE} [${DEFAULT_ACTION_TIMEOUT_SECONDS}]
${COMMON_USAGE}
`;

/** A holder-only request: reads the key file, sends `request(publicKey)`, prints `done` on status true. */
async function holderCommand(
  command: string,
  argv: string[],
  extraOptions: OptionSpec,
  extraUsage: string,
  request: (publicKeyPem: string, values: Record<string, string | boolean | undefined>) => Record<string, unknown>,
  done: string,
): Promise<number> {
  const { values, positionals } = parse(argv, { key: { type: 'string' }, ...extraOptions });
  if (values.help) {
    process.stdout.write(keyUsage(command, extraUsage));
    return 0;
  }
  const url = oneUrl(command, positionals);
  const key = fromFile(() => readRenterKey(required(values.key as string | undefined, '--key')));
  const body = request(key.publicKeyPem, values as Record<string, string | boolean | undefined>);
  const timeout = positiveNumber(values.timeout as string | undefined, '--timeout', DEFAULT_ACTION_TIMEOUT_SECONDS);
  return withDendrite(url, values as CommonValues, timeout, async (dendrite) => {
    const reply = await dendrite.call('Allocate', body, { timeoutSeconds: timeout });
    if (reply.code !== Status.OK) throw replyError(reply, dendrite.dendriteHotkey);
    const output = allocateOutput(reply);
    if (!output.status && isNoRentalAnswer(output.error ?? '')) {
      // The miner says "not the holder" both to a key that never held and to one whose rental
      // was released or has expired; either way nothing is left to manage with this key.
      if (command === 'release') rentalRecords().remove(resolve(values.key as string));
      throw new Error(`no rental for this key on ${url} (released or expired?)`);
    }
    if (!output.status) throw refusedError(output.error);
    if (command === 'release') rentalRecords().remove(resolve(values.key as string));
    if (values.json) printJson({ command, status: true, done });
    else process.stdout.write(`${done}\n`);
    return 0;
  });
}

export const runRelease = (argv: string[]) =>
  holderCommand('release', argv, {}, '', (pem) => releaseRequest(pem), 'released: the container is gone (the key file can be deleted)');

const action = (name: ContainerAction, done: string) => (argv: string[]) =>
  holderCommand(name, argv, {}, '', (pem) => actionRequest(pem, name), done);

export const runPause = action('pause', 'paused');
export const runResume = action('resume', 'resumed');
export const runRestart = action('restart', 'restarted');

export const runExchangeKey = (argv: string[]) =>
  holderCommand(
    'exchange-key',
    argv,
    { 'ssh-key': { type: 'string' }, terminal: { type: 'boolean' } },
    '  --ssh-key FILE        the new OpenSSH public key\n  --terminal            replace the terminal key instead of the user key\n',
    (pem, values) => {
      const sshKey = fromFile(() => readSshPublicKey(required(values['ssh-key'] as string | undefined, '--ssh-key')));
      return exchangeKeyRequest(pem, sshKey, values.terminal ? 'terminal' : 'user');
    },
    'key exchanged',
  );
