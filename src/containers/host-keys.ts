// The rental's SSH host public keys, for the signed Allocate reply's `host_keys` (PROTOCOL.md
// "Version 1 additions"): read from the started container through Docker's archive API, so
// they come from the files sshd serves, whatever the container printed, and work alike for a
// fresh container, a claimed standby and a renter's own image.
import { hostKeyLines } from '../../protocol/index.js';
import { DockerUnavailableError, type DockerEngine } from './docker.js';
import { SSHD_CONFIG } from './base-image.js';

/** A .pub file of more than this is not a host key [16 KiB]. */
export const MAX_HOST_KEY_FILE_BYTES = 16 * 1024;

/** The public halves of the HostKey files the rental's sshd is configured with. */
export function hostKeyPaths(sshdConfig = SSHD_CONFIG): string[] {
  return [...sshdConfig.matchAll(/^HostKey\s+(\S+)\s*$/gm)].map((m) => `${m[1]}.pub`);
}

/** Reads the rental's host public keys; throws when a key file is missing or is not a host key. */
export async function readHostKeys(engine: Pick<DockerEngine, 'getFile'>, containerId: string, paths = hostKeyPaths()): Promise<string[]> {
  const lines: string[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = (await engine.getFile(containerId, path, MAX_HOST_KEY_FILE_BYTES)).toString('utf8');
    } catch (err) {
      if (err instanceof DockerUnavailableError) throw err;
      throw new Error(`cannot read the host key ${path}: ${(err as Error).message}`);
    }
    try {
      for (const line of hostKeyLines(text)) if (!lines.includes(line)) lines.push(line);
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}`);
    }
  }
  if (lines.length === 0) throw new Error('the rental has no SSH host key');
  return lines;
}
