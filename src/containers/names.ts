// Names and labels of everything the container manager creates. Labels let the miner find
// every container and image it owns after a restart, and nothing else.

/** The production allocation and the validator's short-lived test container, as in the seed. */
export const ROLES = ['ssh-container', 'ssh-test-container'] as const;
export type ContainerRole = (typeof ROLES)[number];

export const LABELS = {
  /** SS58 hotkey of the miner that made the object. */
  owner: 'compute-miner.owner',
  /** ContainerRole of a container. */
  role: 'compute-miner.role',
  /** Allocation id (random, per allocation) of a container or per-allocation image. */
  allocation: 'compute-miner.allocation',
  /** 'base' on the base image, 'rootfs' on the imported Debian root file system, 'allocation' on per-allocation images, 'network' on a rental's network. */
  kind: 'compute-miner.kind',
  /** Digest of the base image recipe, so a changed recipe rebuilds the base image. */
  recipe: 'compute-miner.recipe',
  /** "<host>/<ssh port>": set by older releases, one container manager per SSH port; read by none now. */
  slot: 'compute-miner.slot',
} as const;

export const DEFAULT_BASE_TAG = 'ssh-image-base:latest';
export const DEFAULT_BASE_FROM = 'pytorch/pytorch:2.7.0-cuda12.6-cudnn9-runtime';
export const ROOTFS_TAG = 'ssh-image-rootfs:bookworm';

export function containerName(namePrefix: string, role: ContainerRole): string {
  return `${namePrefix}${role}`;
}

/** A rental's container: its role and its id, so many rentals share one engine. */
export function rentalContainerName(namePrefix: string, role: ContainerRole, rentalId: string): string {
  return `${namePrefix}${role}-${rentalId}`;
}

/**
 * The standby: a container started ahead of time while the miner is idle, so a rental only
 * has to set limits and credentials on it. Renamed to the production name when claimed.
 */
export function standbyName(namePrefix: string): string {
  return `${namePrefix}ssh-standby`;
}

/** The per-allocation image built from the renter's `dockerfile` commands. */
export function allocationImageTag(namePrefix: string, allocationId: string): string {
  return `${namePrefix}ssh-image-${allocationId}:latest`.toLowerCase();
}

/** A rental's own bridge network (one per container, the standby's included). */
export function rentalNetworkName(namePrefix: string, networkId: string): string {
  return `${namePrefix}cm-net-${networkId}`;
}
