// Who may hold a connection, as pure rules over the connections' standing, so the flood
// defences read like a table in their tests.
//
// A connection is on probation until one of its requests is accepted (signature good, hotkey
// let in). When the house is full, or strangers hold all they may, a new connection displaces
// the oldest connection on probation instead of being turned away: strangers can delay each
// other but never lock out a validator, and a connection that has earned its place is never
// displaced. A connection whose requests keep being refused is closed.
import { isIPv6 } from 'node:net';

/** What the rules read of an open connection. */
export interface Seat {
  /** The peer's address key (see addressKey). */
  readonly address: string;
  readonly probationary: boolean;
}

export interface HouseRules {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  reservedConnections: number;
}

export type Admission<S extends Seat> =
  | { ok: true; displace: S | null }
  | { ok: false; reason: 'house is full' | 'address is full' };

/**
 * Whether a new connection from `address` gets a seat, given the open ones oldest first,
 * and which connection on probation it displaces to get it.
 */
export function admitConnection<S extends Seat>(seats: Iterable<S>, address: string, rules: HouseRules): Admission<S> {
  let total = 0;
  let probationary = 0;
  let fromAddress = 0;
  let oldest: S | null = null;
  let oldestOfAddress: S | null = null;
  for (const seat of seats) {
    total++;
    const same = seat.address === address;
    if (same) fromAddress++;
    if (!seat.probationary) continue;
    probationary++;
    oldest ??= seat;
    if (same) oldestOfAddress ??= seat;
  }
  if (fromAddress >= rules.maxConnectionsPerAddress) {
    return oldestOfAddress ? { ok: true, displace: oldestOfAddress } : { ok: false, reason: 'address is full' };
  }
  if (total >= rules.maxConnections || probationary >= rules.maxConnections - rules.reservedConnections) {
    return oldest ? { ok: true, displace: oldest } : { ok: false, reason: 'house is full' };
  }
  return { ok: true, displace: null };
}

/** What became of one request, as far as its connection's standing goes. */
export type RequestOutcome =
  /** Signature good and hotkey let in (whatever the reply: 200, 422, 429, ...). */
  | 'accepted'
  /** 401 or 403. */
  | 'refused'
  /** Anything else (a malformed envelope, an unknown synapse): neither earns nor loses. */
  | 'other';

export interface Standing {
  probationary: boolean;
  /** Requests refused since the last accepted one. */
  refused: number;
}

export const NEW_STANDING: Readonly<Standing> = Object.freeze({ probationary: true, refused: 0 });
const IN_GOOD_STANDING: Readonly<Standing> = Object.freeze({ probationary: false, refused: 0 });

/** A connection's standing after one more request. */
export function nextStanding(standing: Standing, outcome: RequestOutcome): Standing {
  // Frozen and shared: the accepted request, the common case, allocates nothing.
  if (outcome === 'accepted') return IN_GOOD_STANDING;
  if (outcome === 'refused') return { probationary: standing.probationary, refused: standing.refused + 1 };
  return standing;
}

/** Whether a connection with this standing is closed. */
export function refusedTooOften(standing: Standing, maxRefusedPerConnection: number): boolean {
  return standing.refused >= maxRefusedPerConnection;
}

/**
 * The key connections are counted under: an IPv4 address as it is (also when IPv4-mapped),
 * an IPv6 address by its /64, the block one host is usually given.
 */
export function addressKey(remote: string | undefined): string {
  if (!remote) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (mapped) return mapped[1]!;
  if (!isIPv6(remote)) return remote;
  const [head = '', tail = ''] = remote.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = remote.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = remote.includes('::') ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
