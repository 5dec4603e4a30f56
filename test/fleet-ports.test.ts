// Pure port pools: reading `--ssh-ports`, taking and giving back ports, overlapping pools, and
// the renter's own ports as the reply's `ports` map and Docker bindings.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bindsOverlap, findPoolOverlaps, freePortCount, parsePortPool, parseRenterPortCount, PortPoolError, releasePorts,
  renterPortBindings, renterPortMap, singlePortPool, takePort, takePorts, type PublishedPool,
} from '../src/resources/ports.js';

test('parsePortPool: ranges and lists, ascending, spaces tolerated', () => {
  assert.equal(parsePortPool('4444-4447,4470', '--ssh-ports').ports, [4444, 4445, 4446, 4447, 4470]);
  assert.equal(parsePortPool(' 4470 , 4444 - 4445 ', '--ssh-ports').ports, [4444, 4445, 4470]);
  assert.equal(parsePortPool('1,65535', 'x').ports, [1, 65535]);
  assert.equal(parsePortPool('1-65535', 'x').ports.length, 65535);
  assert.equal(singlePortPool(4444, '--ssh-port').ports, [4444]);
});

const BAD: [string, RegExp][] = [
  ['', /^--ssh-ports: empty/],
  ['   ', /^--ssh-ports: empty/],
  ['4444-', /^--ssh-ports: "4444-" is not a port or a range like 4444-4459$/],
  ['4444,,4445', /^--ssh-ports: "" is not a port/],
  ['abc', /^--ssh-ports: "abc" is not a port/],
  ['4444.5', /^--ssh-ports: "4444.5" is not a port/],
  ['-1', /^--ssh-ports: "-1" is not a port/],
  ['0', /^--ssh-ports: port 0 in "0" is outside 1..65535$/],
  ['65536', /^--ssh-ports: port 65536 in "65536" is outside 1..65535$/],
  ['65530-70000', /^--ssh-ports: port 70000 in "65530-70000" is outside 1..65535$/],
  ['4459-4444', /^--ssh-ports: "4459-4444" runs backwards \(4459 > 4444\); write 4444-4459$/],
  ['4444-4450,4448', /^--ssh-ports: port 4448 is named twice$/],
  ['4444,4444', /^--ssh-ports: port 4444 is named twice$/],
  ['1'.repeat(5000), /^--ssh-ports: longer than 4096 characters$/],
];

test('parsePortPool: bad input is refused with a clear error naming the flag', () => {
  for (const [text, message] of BAD) {
    assert.throws(() => parsePortPool(text, '--ssh-ports'), (err: unknown) => err instanceof PortPoolError && message.test(err.message), text.slice(0, 40));
  }
});

test('takePort / takePorts / releasePorts: lowest free first, all-or-nothing, nothing mutated', () => {
  const pool = parsePortPool('4444-4446,4450', 'p');
  const inUse = new Set([4444, 4446]);
  assert.is(takePort(pool, inUse), 4445);
  assert.equal(takePorts(pool, inUse, 2), [4445, 4450]);
  assert.is(takePorts(pool, inUse, 3), null);
  assert.equal(takePorts(pool, inUse, 0), []);
  assert.is(freePortCount(pool, inUse), 2);
  assert.equal([...inUse], [4444, 4446], 'the set in use is not changed');
  assert.is(takePort(pool, new Set(pool.ports)), null);
  const after = releasePorts(inUse, [4444]);
  assert.equal([...after], [4446]);
  assert.equal([...inUse], [4444, 4446]);
  assert.is(takePort(pool, after), 4444);
});

test('takePort: a pool of N gives exactly N ports, each once', () => {
  const pool = parsePortPool('5000-5009', 'p');
  let inUse = new Set<number>();
  const got: number[] = [];
  for (let port = takePort(pool, inUse); port !== null; port = takePort(pool, inUse)) {
    got.push(port);
    inUse = new Set([...inUse, port]);
  }
  assert.equal(got, pool.ports);
});

test('bindsOverlap: same address, or a wildcard of the same family', () => {
  assert.ok(bindsOverlap('127.0.0.1', '127.0.0.1'));
  assert.ok(bindsOverlap('0.0.0.0', '10.0.0.5'));
  assert.ok(bindsOverlap('::', '10.0.0.5'));
  assert.ok(bindsOverlap('::1', '::'));
  assert.not.ok(bindsOverlap('127.0.0.1', '127.0.0.2'));
  assert.not.ok(bindsOverlap('0.0.0.0', '::1'));
});

test('findPoolOverlaps: one machine and address, shared ports named; other machines or addresses never clash', () => {
  const pool = (label: string, machine: string, bind: string, text: string): PublishedPool => ({ label, machine, bind, pool: parsePortPool(text, label) });
  const overlaps = findPoolOverlaps([
    pool('hosts[0].ssh_ports', 'local', '127.0.0.1', '4444-4459'),
    pool('hosts[0].renter_ports', 'local', '127.0.0.1', '4459-4470'),
    pool('hosts[1].ssh_ports', 'local', '0.0.0.0', '4400-4500'),
    pool('hosts[2].ssh_ports', '10.0.0.5', '0.0.0.0', '4444-4459'),
    pool('hosts[3].ssh_ports', 'local', '127.0.0.2', '4444-4459'),
  ]);
  assert.equal(overlaps.map((o) => [o.a, o.b]), [
    ['hosts[0].ssh_ports', 'hosts[0].renter_ports'],
    ['hosts[0].ssh_ports', 'hosts[1].ssh_ports'],
    ['hosts[0].renter_ports', 'hosts[1].ssh_ports'],
    ['hosts[1].ssh_ports', 'hosts[3].ssh_ports'],
  ]);
  assert.is(overlaps[0]!.message, 'hosts[0].ssh_ports and hosts[0].renter_ports overlap on 127.0.0.1: port 4459');
  assert.match(overlaps[1]!.message, /ports 4444, 4445, 4446, 4447, 4448 and 11 more$/);
  assert.equal(findPoolOverlaps([pool('a', 'local', '127.0.0.1', '1-10'), pool('b', 'local', '127.0.0.1', '11-20')]), []);
});

test('renter ports: count read and bounded; the reply map from 20000; Docker bindings on the bind address', () => {
  assert.is(parseRenterPortCount('0'), 0);
  assert.is(parseRenterPortCount(' 3 '), 3);
  for (const bad of ['', '-1', '1.5', 'x', '101']) assert.throws(() => parseRenterPortCount(bad), (e: unknown) => e instanceof PortPoolError && /^--renter-ports: /.test((e as Error).message), bad);
  const map = renterPortMap([30001, 30007]);
  assert.equal(map, { '20000': 30001, '20001': 30007 });
  assert.equal(renterPortMap([]), {});
  assert.equal(renterPortBindings('0.0.0.0', map), {
    ExposedPorts: { '20000/tcp': {}, '20001/tcp': {} },
    PortBindings: { '20000/tcp': [{ HostIp: '0.0.0.0', HostPort: '30001' }], '20001/tcp': [{ HostIp: '0.0.0.0', HostPort: '30007' }] },
  });
});

test.run();
