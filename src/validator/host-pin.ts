// Pinning a rental's SSH host: the `host_keys` of the signed Allocate reply, as a known_hosts
// file for OpenSSH and as ssh2's host verifier, so a login reaches the box the miner rented
// out and nothing that took its place.
import { createHash } from 'node:crypto';
import { parseHostKeyLine } from '../../protocol/index.js';

/** OpenSSH's fingerprint of a key blob ("SHA256:…", base64 without padding). */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key blobs of pinned host key lines; throws the first bad line's reason. */
export function pinnedBlobs(hostKeys: readonly string[]): Buffer[] {
  return hostKeys.map((line, i) => {
    const parsed = parseHostKeyLine(line);
    if (!parsed.ok) throw new Error(`host key ${i + 1}: ${parsed.error}`);
    return parsed.blob;
  });
}

/** How OpenSSH names host:port in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return port === 22 ? bare : `[${bare}]:${port}`;
}

/** A known_hosts file pinning `hostKeys` for host:port (one line per key). */
export function knownHostsText(host: string, port: number, hostKeys: readonly string[]): string {
  if (hostKeys.length === 0) throw new Error('no host keys to pin');
  const name = knownHostsName(host, port);
  return hostKeys.map((line, i) => {
    const parsed = parseHostKeyLine(line);
    if (!parsed.ok) throw new Error(`host key ${i + 1}: ${parsed.error}`);
    return `${name} ${parsed.line}\n`;
  }).join('');
}

/** The known_hosts file kept beside a rental's key file: allocation-x.pem → allocation-x.known_hosts. */
export function knownHostsPath(keyPath: string): string {
  return `${keyPath.replace(/\.pem$/i, '')}.known_hosts`;
}

export class HostKeyMismatchError extends Error {}

/**
 * ssh2's `hostVerifier` for the pinned keys, and the reason a refused host was refused
 * (ssh2 itself only says "Host denied (verification failed)").
 */
export function hostPin(hostKeys: readonly string[]): { verify(key: Buffer): boolean; mismatch(): HostKeyMismatchError | undefined } {
  const pinned = pinnedBlobs(hostKeys);
  let refused: HostKeyMismatchError | undefined;
  return {
    verify(key) {
      if (pinned.some((blob) => blob.equals(key))) return true;
      const offered = parseHostKeyLine(`${keyType(key)} ${key.toString('base64')}`);
      const what = offered.ok ? `${offered.type} ${fingerprint(key)}` : `a key of fingerprint ${fingerprint(key)}`;
      refused = new HostKeyMismatchError(
        `host key mismatch: the host offered ${what}, not the pinned ${pinned.map(fingerprint).join(', ')} from the miner's signed Allocate reply`,
      );
      return false;
    },
    mismatch: () => refused,
  };
}

/** The type name at the start of a key blob ('' when there is none). */
function keyType(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  return length <= blob.length - 4 ? blob.subarray(4, 4 + length).toString('latin1') : '';
}
