// The rentals as an operator sees them, derived from what the container manager keeps (its
// allocation record in the data dir) and what Docker says about each container. Read-only:
// nothing here changes a container or the record, and no secret leaves (the holder's key is
// shown only as a fingerprint; passwords and SSH keys are never read).
import { createHash, createPublicKey } from 'node:crypto';
import type Dockerode from 'dockerode';
import { allocationStore } from '../containers/store.js';

export interface RentalView {
  /** The host it runs on, for a miner with several hosts or SSH ports. */
  host?: string;
  /** ssh-container (a rental) or ssh-test-container (a validator's test). */
  role: string;
  container: string;
  /**
   * Docker's state: running, paused, restarting, exited, dead; "gone" when Docker has no such
   * container; "unreachable" when its host's engine does not answer (another host's rentals still show).
   */
  state: string;
  /** SHA256 of the holder's public key (DER), as OpenSSH prints fingerprints. */
  holder: string;
  cores: number;
  cpuset: string;
  memoryBytes: number | null;
  gpus: number | 'all';
  port: number;
  /** ISO 8601. */
  deadline: string;
  secondsLeft: number;
}

/** `SHA256:<base64>` of a PEM public key given as base64 of the PEM (the allocation_key form). */
export function holderFingerprint(holderKeyBase64: string): string {
  try {
    const pem = Buffer.from(holderKeyBase64, 'base64').toString('utf8');
    const der = createPublicKey({ key: pem, format: 'pem' }).export({ type: 'spki', format: 'der' });
    return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
  } catch {
    return 'unreadable';
  }
}

/** Cores in a cpuset such as "0-3,6". */
export function cpusetSize(cpuset: string): number {
  let n = 0;
  for (const part of cpuset.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b! - a! + 1;
  }
  return n;
}

interface Inspected {
  State?: { Status?: string };
  HostConfig?: { Memory?: number; DeviceRequests?: Array<{ Count?: number; DeviceIDs?: string[] }> | null };
}

/** GPUs given by Docker device requests: -1 is "all". */
export function gpusOf(requests: NonNullable<Inspected['HostConfig']>['DeviceRequests']): number | 'all' {
  let n = 0;
  for (const r of requests ?? []) {
    if (r.Count === -1) return 'all';
    n += r.DeviceIDs?.length ? r.DeviceIDs.length : r.Count ?? 0;
  }
  return n;
}

/** Where one rental slot keeps its record, and the engine its container runs on. */
export interface RentalSource {
  /** Named only when the miner has several slots. */
  host?: string;
  dataDir: string;
  docker: Dockerode;
}

/** Every slot's rental, in slot order. One engine down marks its rentals unreachable; it does not hide the others. */
export function rentalReader(sources: readonly RentalSource[]): () => Promise<RentalView[]> {
  const slots = sources.map((s) => ({ ...s, store: allocationStore(s.dataDir) }));
  return async () => {
    const views = await Promise.all(slots.map(async ({ host, docker, store }): Promise<RentalView | null> => {
      const record = store.read();
      if (!record) return null;
      let inspected: Inspected | null = null;
      let state: string;
      try {
        inspected = (await docker.getContainer(record.containerId).inspect()) as Inspected;
        state = inspected.State?.Status ?? 'gone';
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        // One slot: the page says the engine's fault; several: the other hosts' rentals still show.
        if (status !== 404 && slots.length === 1) throw err;
        state = status === 404 ? 'gone' : 'unreachable';
      }
      return {
        ...(host !== undefined ? { host } : {}),
        role: record.role,
        container: record.containerName,
        state,
        holder: holderFingerprint(record.holderKey),
        cores: cpusetSize(record.cpuset),
        cpuset: record.cpuset,
        memoryBytes: inspected?.HostConfig?.Memory || (record.memoryBytes ?? null),
        gpus: inspected ? gpusOf(inspected.HostConfig?.DeviceRequests) : (record.gpuIds?.length ?? 0),
        port: record.port,
        deadline: new Date(record.deadline).toISOString(),
        secondsLeft: Math.max(0, Math.round((record.deadline - Date.now()) / 1000)),
      };
    }));
    return views.filter((v): v is RentalView => v !== null);
  };
}
