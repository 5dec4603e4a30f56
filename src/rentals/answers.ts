// Words of the answers the rental service gives: the base image not ready, an engine's error
// without its HTTP wrapping. Pure.

/** The 503 while no host has the base image; `error` is the last build's failure. */
export function baseImageNotReady(error?: string): string {
  return error ? `base image not ready yet: the last build failed (${error}); rebuilding` : 'base image not ready yet: building';
}

/** An engine error's own message, without dockerode's "(HTTP code N) reason - " prefix. */
export function dockerMessage(err: unknown): string {
  const json = (err as { json?: { message?: string } })?.json;
  return (json?.message ?? (err as Error)?.message ?? String(err)).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '');
}
