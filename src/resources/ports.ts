// Pure port pools: the text of `--ssh-ports 4444-4459,4470` (ranges and lists), taking and giving
// back ports, pools that would publish the same port twice, and the renter's own ports
// (container ports 20000 and up, published from a second pool) as the reply's `ports` map.
import { isIP } from 'node:net';

/** A pool: its ports ascending and unique, and the text it was read from (for messages). */
export interface PortPool {
  ports: readonly number[];
  text: string;
}

export class PortPoolError extends Error {
  override name = 'PortPoolError';
}

/** Longest pool text read: a pool is a handful of ranges, not a file. */
export const MAX_POOL_TEXT = 4096;
/** First container port of the renter's own services: the reply maps "20000", "20001", … */
export const RENTER_CONTAINER_PORT_BASE = 20000;
/** Most renter ports a rental may have (`--renter-ports N`). */
export const MAX_RENTER_PORTS = 100;

/**
 * Reads "4444-4459,4470" or a single port "4444". Ports are 1..65535, a range never runs
 * backwards, and no port is named twice. `label` names the flag or field in the errors.
 */
export function parsePortPool(text: string, label: string): PortPool {
  if (typeof text !== 'string') throw new PortPoolError(`${label}: must be a port, a range like 4444-4459, or a comma-separated list of them`);
  if (text.length > MAX_POOL_TEXT) throw new PortPoolError(`${label}: longer than ${MAX_POOL_TEXT} characters`);
  if (text.trim() === '') throw new PortPoolError(`${label}: empty; give a port, a range like 4444-4459, or a comma-separated list of them`);
  const seen = new Set<number>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const match = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(part);
    if (!match) throw new PortPoolError(`${label}: "${part}" is not a port or a range like 4444-4459`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    for (const port of [from, to]) {
      if (port < 1 || port > 65535) throw new PortPoolError(`${label}: port ${port} in "${part}" is outside 1..65535`);
    }
    if (to < from) throw new PortPoolError(`${label}: "${part}" runs backwards (${from} > ${to}); write ${to}-${from}`);
    for (let port = from; port <= to; port++) {
      if (seen.has(port)) throw new PortPoolError(`${label}: port ${port} is named twice`);
      seen.add(port);
    }
  }
  return { ports: [...seen].sort((a, b) => a - b), text };
}

/** `--ssh-port N` as a pool of one. */
export function singlePortPool(port: number, label: string): PortPool {
  return parsePortPool(String(port), label);
}

/** The lowest port of the pool not in use, or null when all are taken. */
export function takePort(pool: PortPool, inUse: ReadonlySet<number>): number | null {
  for (const port of pool.ports) if (!inUse.has(port)) return port;
  return null;
}

/** The `count` lowest ports of the pool not in use, or null when fewer are free (nothing is taken then). */
export function takePorts(pool: PortPool, inUse: ReadonlySet<number>, count: number): number[] | null {
  const taken: number[] = [];
  if (count <= 0) return taken;
  for (const port of pool.ports) {
    if (inUse.has(port)) continue;
    taken.push(port);
    if (taken.length === count) return taken;
  }
  return null;
}

/** The ports in use once `ports` are given back; the input set is not changed. */
export function releasePorts(inUse: ReadonlySet<number>, ports: Iterable<number>): Set<number> {
  const left = new Set(inUse);
  for (const port of ports) left.delete(port);
  return left;
}

/** How many ports of the pool are free. */
export function freePortCount(pool: PortPool, inUse: ReadonlySet<number>): number {
  let free = 0;
  for (const port of pool.ports) if (!inUse.has(port)) free++;
  return free;
}

/** Ports both pools hold, ascending. */
export function sharedPorts(a: PortPool, b: PortPool): number[] {
  const inB = new Set(b.ports);
  return a.ports.filter((p) => inB.has(p));
}

/** A pool as it is published: where (machine and bind address) and under which name. */
export interface PublishedPool {
  /** Names the pool in messages, e.g. `hosts[1].ssh_ports`. */
  label: string;
  /** The machine whose ports it takes (two engines on one machine share its ports). */
  machine: string;
  /** HostIp the ports are bound to; 0.0.0.0 and :: take the port on every address. */
  bind: string;
  pool: PortPool;
}

export interface PoolOverlap {
  a: string;
  b: string;
  ports: number[];
  message: string;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** Whether two bind addresses can collide on one machine: equal, or either binds every address. */
export function bindsOverlap(a: string, b: string): boolean {
  if (WILDCARDS.has(a) || WILDCARDS.has(b)) {
    // Docker publishes 0.0.0.0 on IPv4 only and :: on both families; 0.0.0.0 and an IPv6 address do not meet.
    if (a === '0.0.0.0' && isIP(b) === 6) return false;
    if (b === '0.0.0.0' && isIP(a) === 6) return false;
    return true;
  }
  return a === b;
}

/** Every pair of pools that would publish one port twice on the same machine and address. */
export function findPoolOverlaps(pools: readonly PublishedPool[]): PoolOverlap[] {
  const found: PoolOverlap[] = [];
  for (let i = 0; i < pools.length; i++) {
    for (let j = i + 1; j < pools.length; j++) {
      const a = pools[i]!;
      const b = pools[j]!;
      if (a.machine !== b.machine || !bindsOverlap(a.bind, b.bind)) continue;
      const ports = sharedPorts(a.pool, b.pool);
      if (ports.length === 0) continue;
      const shown = ports.length > 5 ? `${ports.slice(0, 5).join(', ')} and ${ports.length - 5} more` : ports.join(', ');
      found.push({ a: a.label, b: b.label, ports, message: `${a.label} and ${b.label} overlap on ${b.bind || a.bind}: port${ports.length === 1 ? '' : 's'} ${shown}` });
    }
  }
  return found;
}

/** Reads `--renter-ports N`: how many container ports each rental publishes beside SSH. */
export function parseRenterPortCount(text: string, label = '--renter-ports', max = MAX_RENTER_PORTS): number {
  if (!/^\d{1,6}$/.test(text.trim())) throw new PortPoolError(`${label}: must be a whole number 0..${max}`);
  const count = Number(text.trim());
  if (count > max) throw new PortPoolError(`${label}: ${count} is more than ${max}`);
  if (RENTER_CONTAINER_PORT_BASE + count - 1 > 65535) throw new PortPoolError(`${label}: ${count} ports from ${RENTER_CONTAINER_PORT_BASE} pass 65535`);
  return count;
}

/** The reply's `ports` map: container port (from 20000) → published host port, in order. */
export function renterPortMap(hostPorts: readonly number[], base = RENTER_CONTAINER_PORT_BASE): Record<string, number> {
  const map: Record<string, number> = {};
  hostPorts.forEach((hostPort, i) => { map[String(base + i)] = hostPort; });
  return map;
}

/** Docker ExposedPorts and PortBindings for the renter's ports, to merge beside SSH's 22/tcp. */
export function renterPortBindings(bind: string, map: Readonly<Record<string, number>>): {
  ExposedPorts: Record<string, Record<string, never>>;
  PortBindings: Record<string, { HostIp: string; HostPort: string }[]>;
} {
  const ExposedPorts: Record<string, Record<string, never>> = {};
  const PortBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const [container, host] of Object.entries(map)) {
    ExposedPorts[`${container}/tcp`] = {};
    PortBindings[`${container}/tcp`] = [{ HostIp: bind, HostPort: String(host) }];
  }
  return { ExposedPorts, PortBindings };
}
