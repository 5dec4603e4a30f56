// Failures of a dependency rather than of the request (the axon answers them with 503), and an
// engine error in its own words.

/** Docker is down, the base image is not built yet, ... — try again later. */
export class UnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnavailableError';
  }
}

/** An engine error's own message, without dockerode's "(HTTP code N) reason - " prefix. */
export function dockerMessage(err: unknown): string {
  const json = (err as { json?: { message?: string } })?.json;
  return (json?.message ?? (err as Error)?.message ?? String(err)).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '');
}
