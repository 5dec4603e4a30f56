// Every limit of the axon, named, with its default. A limit that is hit gets the close code
// or status PROTOCOL.md gives it; none of them is a number buried in the code.
//
// Frames: ws hands the axon one frame per connection per turn of the event loop (its
// allowSynchronousEvents: false), so however fast one connection sends, every other
// connection, and every new one, is served in the same turn. That is not a number to tune,
// so it is not an option here.
export interface AxonLimits {
  /** Largest frame accepted; a larger one closes the connection with 1009. Default 1 MiB. */
  maxPayload: number;
  /**
   * Open WebSocket connections. When they are all taken, a new connection displaces the
   * oldest connection still on probation (no request accepted yet), and only when none is on
   * probation is it closed with 1013. Default 256.
   */
  maxConnections: number;
  /**
   * Connections from one address (an IPv6 address counts by its /64); past it, a new one
   * displaces that address's oldest connection on probation, or is closed with 1013.
   * Default 64: far above what a validator opens, well below the whole house.
   */
  maxConnectionsPerAddress: number;
  /**
   * New connections per second from one address none of whose connections has earned its
   * place lately (sustained; token bucket). Past it the upgrade is answered with HTTP 429 and
   * no handshake, so a reconnecting flood costs the axon little. Default 5.
   */
  newConnectionsPerSecond: number;
  /** The burst of new connections such an address may open above that rate. Default 20. */
  newConnectionsBurst: number;
  /**
   * After a connection from an address has a request accepted, new connections from that
   * address are not rate-limited for this long. Default 10 min.
   */
  earnedAddressMs: number;
  /**
   * Room kept for connections that have earned their place: connections on probation may
   * hold at most maxConnections − reservedConnections; past that a new connection displaces
   * the oldest of them. Default a quarter of maxConnections (64 of 256); when set, ≥ 1 and
   * below maxConnections.
   */
  reservedConnections: number;
  /**
   * Requests of one connection refused with 401 or 403 since its last accepted request; at
   * this many the connection is closed with 1008. Default 10.
   */
  maxRefusedPerConnection: number;
  /**
   * Requests of one connection accepted but not yet answered; one more is answered 429 at
   * once (the connection stays open, so a busy client only has to slow down). Default 256.
   */
  maxInFlightPerConnection: number;
  /**
   * Requests of one hotkey waiting or running, over all its connections; one more is
   * answered 429, so one hotkey's flood fills its own share and not the queue. Default 256.
   */
  maxPendingPerHotkey: number;
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
  /**
   * How long a connection the axon closes may take to answer the closing handshake before it
   * is cut. Default 5 s. (Past maxConnections such connections at once, they are cut at once.)
   */
  closeTimeoutMs: number;
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
  /** Refusals are summed over this period and logged once at its end (not per request). Default 60 s. */
  floodReportIntervalMs: number;
  /** Refused requests and connections in one period from which it is logged as a flood. Default 100. */
  floodReportMinRefusals: number;
  /** Refused callers named one by one in the log per flood-report period (each hotkey and reason once). Default 20. */
  refusalLogLines: number;
}

export const DEFAULT_LIMITS: Readonly<AxonLimits> = Object.freeze({
  maxPayload: 1024 * 1024,
  maxConnections: 256,
  maxConnectionsPerAddress: 64,
  newConnectionsPerSecond: 5,
  newConnectionsBurst: 20,
  earnedAddressMs: 600_000,
  reservedConnections: 64,
  maxRefusedPerConnection: 10,
  maxInFlightPerConnection: 256,
  maxPendingPerHotkey: 256,
  maxQueued: 1024,
  maxRunning: 32,
  ratePerSecond: 50,
  rateBurst: 100,
  idleTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxTimeoutSeconds: 120,
  replayCacheSize: 100_000,
  keyCacheSize: 4096,
  rateTableSize: 10_000,
  floodReportIntervalMs: 60_000,
  floodReportMinRefusals: 100,
  refusalLogLines: 20,
});

/** The range each limit must fall in: whole numbers unless `fraction`, at most `max`. */
const RANGES: Record<keyof AxonLimits, { max: number; fraction?: true }> = {
  maxPayload: { max: 256 * 1024 * 1024 },
  maxConnections: { max: 1_000_000 },
  maxConnectionsPerAddress: { max: 1_000_000 },
  newConnectionsPerSecond: { max: 1e9, fraction: true },
  newConnectionsBurst: { max: 1e9 },
  earnedAddressMs: { max: 7 * 24 * 3600_000 },
  reservedConnections: { max: 1_000_000 },
  maxRefusedPerConnection: { max: 1_000_000 },
  maxInFlightPerConnection: { max: 1_000_000 },
  maxPendingPerHotkey: { max: 10_000_000 },
  maxQueued: { max: 10_000_000 },
  maxRunning: { max: 1_000_000 },
  ratePerSecond: { max: 1e9, fraction: true },
  rateBurst: { max: 1e9 },
  idleTimeoutMs: { max: 24 * 3600_000 },
  closeTimeoutMs: { max: 3600_000 },
  maxBufferedBytes: { max: 4 * 1024 * 1024 * 1024 },
  maxTimeoutSeconds: { max: 24 * 3600, fraction: true },
  replayCacheSize: { max: 100_000_000 },
  keyCacheSize: { max: 10_000_000 },
  rateTableSize: { max: 100_000_000 },
  floodReportIntervalMs: { max: 24 * 3600_000 },
  floodReportMinRefusals: { max: 1e12 },
  refusalLogLines: { max: 1_000_000 },
};

/**
 * The defaults with `overrides` applied; throws a one-line error naming the limit for an
 * unknown name or a value that is not a number in its range (0 and negatives never are).
 */
export function resolveLimits(overrides: Partial<AxonLimits> = {}): AxonLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(overrides) as [keyof AxonLimits, unknown][]) {
    if (value === undefined) continue;
    const range = RANGES[name];
    if (!range) throw new Error(`axon limit ${String(name)} is unknown (known: ${Object.keys(RANGES).join(', ')})`);
    const kind = range.fraction ? 'a number' : 'a whole number';
    if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0) || (!range.fraction && !Number.isInteger(value)) || value > range.max) {
      throw new Error(`axon limit ${name} must be ${kind} > 0 and ≤ ${range.max}, not ${String(value)}`);
    }
    limits[name] = value;
  }
  if (overrides.reservedConnections === undefined) {
    limits.reservedConnections = Math.floor(limits.maxConnections / 4);
  } else if (limits.reservedConnections >= limits.maxConnections) {
    throw new Error(`axon limit reservedConnections (${limits.reservedConnections}) must be below maxConnections (${limits.maxConnections})`);
  }
  return limits;
}
