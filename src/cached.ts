// A value that is costly to read (a hardware probe, a Docker round trip): read at most once
// per `cacheMs`, and concurrent readers of a stale value share one read.

export function cachedReader<T>(read: () => Promise<T>, cacheMs: number): () => Promise<T> {
  let cached: { value: T; at: number } | undefined;
  let inFlight: Promise<T> | undefined;
  return () => {
    if (cached && Date.now() - cached.at < cacheMs) return Promise.resolve(cached.value);
    inFlight ??= read()
      .then((value) => {
        cached = { value, at: Date.now() };
        return value;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}
