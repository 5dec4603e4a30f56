// Words of the answers the rental service gives: the base image not ready. Pure.

/** The 503 while no host has the base image; `error` is the last build's failure. */
export function baseImageNotReady(error?: string): string {
  return error ? `base image not ready yet: the last build failed (${error}); rebuilding` : 'base image not ready yet: building';
}
