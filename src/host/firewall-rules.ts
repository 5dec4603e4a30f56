// The host firewall that isolates rentals, as data: which chains, which rules, which jumps.
// Pure, so tests read the rules; firewall.ts installs them. Every rule lives in a chain named
// COMPUTE-MINER-*, so only the miner's own rules are ever flushed or replaced.
import { RENTAL_BRIDGE_PREFIX } from '../resources/bridge.js';

export const CHAIN = {
  input: 'COMPUTE-MINER-INPUT',
  forward: 'COMPUTE-MINER-FORWARD',
  postrouting: 'COMPUTE-MINER-POSTROUTING',
} as const;

/** Where a rental may never send: the cloud metadata address, private and CGNAT ranges. */
export const BLOCKED_DESTINATIONS = ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'] as const;

export interface FirewallPlan {
  /** iptables-restore text for one table (applied with --noflush: only our chains are replaced). */
  tables: { family: 'ipv4' | 'ipv6'; table: 'filter' | 'nat'; text: string }[];
  /** Jumps into our chains: [family, table, builtin chain, our chain]. Each is kept first. */
  jumps: { family: 'ipv4' | 'ipv6'; table: 'filter' | 'nat'; from: string; to: string }[];
}

/**
 * The rules for rentals on bridges `cmr*` whose subnets come from `rentalSubnet`:
 * - INPUT: a rental reaches no service of the host (axon, sshd, dockerd, anything on 0.0.0.0),
 *   only replies to connections the host opened (docker-proxy carrying SSH) come back;
 * - FORWARD: no metadata, private or CGNAT destination, no other rental; the internet is fine;
 * - NAT: rental traffic leaving the host is masqueraded, as Docker would;
 * - IPv6: nothing at all from a rental bridge (Docker gives rentals no IPv6; link-local would
 *   otherwise reach the host's services on ::).
 */
export function firewallPlan(rentalSubnet: string): FirewallPlan {
  const br = `${RENTAL_BRIDGE_PREFIX}+`;
  const tag = ['-m', 'comment', '--comment', 'compute-miner'];
  const rule = (chain: string, ...args: string[]) => ['-A', chain, ...args, ...tag].join(' ');
  const established = ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED'];
  const filter4 = [
    '*filter',
    `:${CHAIN.input} - [0:0]`,
    `:${CHAIN.forward} - [0:0]`,
    rule(CHAIN.input, '-i', br, ...established, '-j', 'RETURN'),
    rule(CHAIN.input, '-i', br, '-j', 'DROP'),
    rule(CHAIN.forward, '-o', br, ...established, '-j', 'ACCEPT'),
    ...BLOCKED_DESTINATIONS.map((d) => rule(CHAIN.forward, '-i', br, '-d', d, '-j', 'DROP')),
    rule(CHAIN.forward, '-i', br, '-o', br, '-j', 'DROP'),
    rule(CHAIN.forward, '-i', br, '-j', 'ACCEPT'),
    // Nothing from outside may open a connection to a rental: SSH arrives through docker-proxy.
    rule(CHAIN.forward, '-o', br, '-j', 'DROP'),
    'COMMIT',
    '',
  ].join('\n');
  const nat4 = [
    '*nat',
    `:${CHAIN.postrouting} - [0:0]`,
    rule(CHAIN.postrouting, '-s', rentalSubnet, '!', '-o', br, '-j', 'MASQUERADE'),
    'COMMIT',
    '',
  ].join('\n');
  const filter6 = [
    '*filter',
    `:${CHAIN.input} - [0:0]`,
    `:${CHAIN.forward} - [0:0]`,
    rule(CHAIN.input, '-i', br, ...established, '-j', 'RETURN'),
    rule(CHAIN.input, '-i', br, '-j', 'DROP'),
    rule(CHAIN.forward, '-i', br, '-j', 'DROP'),
    rule(CHAIN.forward, '-o', br, '-j', 'DROP'),
    'COMMIT',
    '',
  ].join('\n');
  return {
    tables: [
      { family: 'ipv4', table: 'filter', text: filter4 },
      { family: 'ipv4', table: 'nat', text: nat4 },
      { family: 'ipv6', table: 'filter', text: filter6 },
    ],
    jumps: [
      { family: 'ipv4', table: 'filter', from: 'INPUT', to: CHAIN.input },
      { family: 'ipv4', table: 'filter', from: 'FORWARD', to: CHAIN.forward },
      // Docker's own daemon sends forwarded traffic through DOCKER-USER first, when it exists.
      { family: 'ipv4', table: 'filter', from: 'DOCKER-USER', to: CHAIN.forward },
      { family: 'ipv4', table: 'nat', from: 'POSTROUTING', to: CHAIN.postrouting },
      { family: 'ipv6', table: 'filter', from: 'INPUT', to: CHAIN.input },
      { family: 'ipv6', table: 'filter', from: 'FORWARD', to: CHAIN.forward },
    ],
  };
}

/** Whether the first rule of `from` in an `iptables -S from` listing is the jump to `to`. Pure. */
export function jumpIsFirst(listing: string, from: string, to: string): boolean {
  const first = listing.split('\n').find((l) => l.startsWith(`-A ${from} `));
  return first !== undefined && first.includes(`-j ${to}`);
}
