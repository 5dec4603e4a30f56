// The Docker side's public face, for the composition root.
export { createDockerRuntime, type DockerRuntimeOptions } from './runtime.js';
export { UnavailableError } from './errors.js';
export { DockerUnavailableError, DEFAULT_DOCKER_SOCKET, connectDocker, dockerodeEngine } from './docker.js';
export { LABELS, ROLES, DEFAULT_BASE_FROM, DEFAULT_BASE_TAG, type ContainerRole } from './names.js';
