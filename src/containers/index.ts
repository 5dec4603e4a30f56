// The container manager's public face, for the composition root and the Allocate handler.
export { createContainerManager, isHolder } from './manager.js';
export type { ContainerManager, ContainerManagerOptions, ManagerState, BaseImageState, Outcome, AllocationResult, AllocationRequest } from './manager.js';
export { UnavailableError } from './errors.js';
export { DockerUnavailableError, DEFAULT_DOCKER_SOCKET, connectDocker, dockerodeEngine } from './docker.js';
export { LABELS, ROLES, DEFAULT_BASE_FROM, DEFAULT_BASE_TAG, type ContainerRole } from './names.js';
