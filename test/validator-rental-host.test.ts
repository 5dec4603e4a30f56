// Where a renter or validator connects to a rental: the Allocate reply's `host` (a miner that
// fronts several machines) or the axon's own host; a miner on a public address cannot point
// SSH into the client's own network; the renter's published ports are shown with that host.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isNonPublicAddress, rentalHost } from '../src/validator/rent.js';
import { describeRental, formatRental } from '../src/commands/validator-rentals.js';
import type { RentalRecord } from '../src/validator/rental-records.js';

test('no host in the reply: the axon\'s host, IPv6 without brackets', () => {
  assert.is(rentalHost('ws://203.0.113.7:8091', undefined), '203.0.113.7');
  assert.is(rentalHost('ws://[2001:db8::1]:8091', undefined), '2001:db8::1');
  assert.is(rentalHost('ws://miner.example.com:8091', undefined), 'miner.example.com');
});

test('a named host is used: addresses and DNS names', () => {
  assert.is(rentalHost('ws://203.0.113.7:8091', '198.51.100.20'), '198.51.100.20');
  assert.is(rentalHost('ws://203.0.113.7:8091', 'gpu-3.example.net'), 'gpu-3.example.net');
  assert.is(rentalHost('ws://203.0.113.7:8091', '[2001:db8::5]'), '2001:db8::5');
  assert.is(rentalHost('ws://miner.example.com:8091', '2001:db8::5'), '2001:db8::5');
});

test('a miner on a loopback or private address (a lab, a test) may name loopback and private hosts', () => {
  assert.is(rentalHost('ws://127.0.0.1:8091', '127.0.0.1'), '127.0.0.1');
  assert.is(rentalHost('ws://localhost:8091', '10.1.2.3'), '10.1.2.3');
  assert.is(rentalHost('ws://192.168.1.10:8091', '192.168.1.11'), '192.168.1.11');
  assert.is(rentalHost('ws://[fd00::1]:8091', 'fd00::2'), 'fd00::2');
});

test('a miner on a public address or name may not send SSH into the client\'s own network', () => {
  for (const named of ['127.0.0.1', '10.0.0.8', '172.16.4.4', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd12::1', '::ffff:10.0.0.1', 'localhost', 'LOCALHOST.']) {
    for (const url of ['ws://203.0.113.7:8091', 'ws://miner.example.com:8091']) {
      assert.throws(() => rentalHost(url, named), /names a non-public SSH host .* refused/, `${url} → ${named}`);
    }
  }
});

test('a host that is neither an address nor a name is refused, quoted and cut short', () => {
  for (const bad of ['', 'a b', 'host;rm -rf /', '-oProxyCommand=x', 'a..b', 'x'.repeat(64), `${'a.'.repeat(127)}a`, 'ho$t', 'ws://x']) {
    assert.throws(() => rentalHost('ws://127.0.0.1:8091', bad), /is neither an IP address nor a host name/, JSON.stringify(bad));
  }
  assert.throws(() => rentalHost('ws://127.0.0.1:8091', `bad host ${'z'.repeat(200)}`), (e: unknown) => (e as Error).message.length < 200);
});

test('isNonPublicAddress: ranges at their edges', () => {
  assert.ok(isNonPublicAddress('172.31.255.255'));
  assert.not.ok(isNonPublicAddress('172.32.0.0'));
  assert.not.ok(isNonPublicAddress('100.128.0.0'));
  assert.not.ok(isNonPublicAddress('8.8.8.8'));
  assert.not.ok(isNonPublicAddress('2001:db8::1'));
  assert.not.ok(isNonPublicAddress('not-an-address'));
});

test('validator rentals: the renter\'s ports beside the ssh line, on the rental\'s host', () => {
  const record: RentalRecord = {
    version: 1, miner: 'ws://203.0.113.7:8091', minerHotkey: '5Fminer', host: '198.51.100.20', port: 4447, keyFile: '/nonexistent/key.pem',
    allocatedAt: '2026-01-01T00:00:00.000Z', deadline: '2026-01-02T00:00:00.000Z', cpu: 1, ramBytes: 1024 ** 3, diskBytes: 1024 ** 3, gpu: 0,
    ports: { '20000': 30004, '20001': 30005 },
  };
  const text = formatRental(describeRental(record, Date.parse('2026-01-01T12:00:00.000Z')));
  assert.match(text, /^  ssh -p 4447 root@198\.51\.100\.20$/m);
  assert.match(text, /^  port 20000 of the container: 198\.51\.100\.20:30004$/m);
  assert.match(text, /^  port 20001 of the container: 198\.51\.100\.20:30005$/m);
  assert.not.match(formatRental(describeRental({ ...record, ports: undefined as never }, 0)), /of the container/);
});

test.run();
