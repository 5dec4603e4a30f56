// Failures of a dependency rather than of the request: the axon answers them with 503.

/** Docker is down, the base image is not built yet, ... — try again later. */
export class UnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnavailableError';
  }
}
