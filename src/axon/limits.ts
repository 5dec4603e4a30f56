// Every limit of the axon, named, with its default. A limit that is hit gets the close code
// or status PROTOCOL.md gives it; none of them is a number buried in the code.
export interface AxonLimits {
  /** Largest frame accepted; a larger one closes the connection with 1009. Default 1 MiB. */
  maxPayload: number;
  /** Open WebSocket connections; one more is closed with 1013. Default 256. */
  maxConnections: number;
  /**
   * Requests of one connection accepted but not yet answered; one more is answered 429 at
   * once (the connection stays open, so a busy client only has to slow down). Default 256.
   */
  maxInFlightPerConnection: number;
  /** Requests waiting for a handler slot, over all connections; one more is answered 503. Default 1024. */
  maxQueued: number;
  /** Handlers running at once over all synapses (each synapse also has its own concurrency). Default 32. */
  maxRunning: number;
  /** Sustained requests per second per validator hotkey (token bucket refill); over it, 429. Default 50. */
  ratePerSecond: number;
  /** Token bucket size per validator hotkey: the burst allowed above the sustained rate. Default 100. */
  rateBurst: number;
  /** A connection that sends nothing for this long after opening is closed with 1008. Default 10 s. */
  idleTimeoutMs: number;
  /** Reply bytes a connection may leave unread; past it the connection is closed with 1008. Default 16 MiB. */
  maxBufferedBytes: number;
  /** Cap on a request's `timeout` (seconds): handlers never get longer than this. Default 120 s. */
  maxTimeoutSeconds: number;
  /** (hotkey, uuid) pairs whose last nonce is remembered. Default 100,000. */
  replayCacheSize: number;
  /** Validator public keys kept decoded. Default 4096. */
  keyCacheSize: number;
  /** Validator hotkeys whose rate bucket is kept. Default 10,000. */
  rateTableSize: number;
}

export const DEFAULT_LIMITS: Readonly<AxonLimits> = Object.freeze({
  maxPayload: 1024 * 1024,
  maxConnections: 256,
  maxInFlightPerConnection: 256,
  maxQueued: 1024,
  maxRunning: 32,
  ratePerSecond: 50,
  rateBurst: 100,
  idleTimeoutMs: 10_000,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxTimeoutSeconds: 120,
  replayCacheSize: 100_000,
  keyCacheSize: 4096,
  rateTableSize: 10_000,
});

export function resolveLimits(overrides: Partial<AxonLimits> = {}): AxonLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(overrides) as [keyof AxonLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !(value > 0)) throw new Error(`axon limit ${name} must be a number > 0, not ${value}`);
    limits[name] = value;
  }
  return limits;
}
