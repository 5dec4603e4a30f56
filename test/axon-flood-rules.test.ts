// The pure rules behind the flood defences: who gets a seat and whom a newcomer displaces,
// how a connection's standing moves, how addresses are counted, the per-hotkey share, the
// flood summary, and the limits that guard them (bad values refused at start).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { Arrivals } from '../src/axon/arrivals.js';
import { FloodReport } from '../src/axon/flood-report.js';
import { HotkeyShares } from '../src/axon/hotkey-share.js';
import { DEFAULT_LIMITS, resolveLimits } from '../src/axon/limits.js';
import { addressKey, admitConnection, NEW_STANDING, nextStanding, refusedTooOften, type HouseRules, type Seat } from '../src/axon/probation.js';

interface TestSeat extends Seat {
  name: string;
}
const seat = (name: string, address: string, probationary: boolean): TestSeat => ({ name, address, probationary });
const rules: HouseRules = { maxConnections: 4, maxConnectionsPerAddress: 2, reservedConnections: 1 };
const verdict = (seats: TestSeat[], address: string, r: HouseRules = rules) => {
  const a = admitConnection(seats, address, r);
  return a.ok ? (a.displace ? `displace ${a.displace.name}` : 'seat') : a.reason;
};

test('admission: a free house seats a newcomer', () => {
  assert.is(verdict([], 'A'), 'seat');
  assert.is(verdict([seat('a1', 'A', true), seat('b1', 'B', false)], 'C'), 'seat');
});

test('admission: when strangers hold all they may, the oldest on probation is displaced, whatever its address', () => {
  // 3 on probation = maxConnections − reservedConnections: the last seat is kept for one that earned it.
  const seats = [seat('b1', 'B', false), seat('c1', 'C', true), seat('d1', 'D', true), seat('e1', 'E', true)];
  assert.is(verdict(seats.slice(1), 'F'), 'displace c1');
  assert.is(verdict(seats, 'F'), 'displace c1', 'full house: oldest on probation, not the validator b1');
});

test('admission: a house full of connections that earned their place turns the newcomer away', () => {
  const seats = ['a', 'b', 'c', 'd'].map((n) => seat(n, n.toUpperCase(), false));
  assert.is(verdict(seats, 'E'), 'house is full');
});

test('admission: an address at its cap displaces its own oldest on probation, or is turned away', () => {
  assert.is(verdict([seat('a1', 'A', false), seat('b1', 'B', true), seat('a2', 'A', true)], 'A'), 'displace a2', 'not b1: the cap is the address\'s own');
  assert.is(verdict([seat('a1', 'A', false), seat('a2', 'A', false)], 'A'), 'address is full');
  assert.is(verdict([seat('a1', 'A', false), seat('a2', 'A', false)], 'B'), 'seat', 'other addresses are not held back');
});

test('admission: order of opening decides who is oldest', () => {
  const seats = [seat('x', 'X', false), seat('old', 'O', true), seat('new', 'N', true)];
  assert.is(verdict(seats, 'Z', { maxConnections: 3, maxConnectionsPerAddress: 3, reservedConnections: 1 }), 'displace old');
});

test('standing: one accepted request ends probation and forgives refusals; refusals add up to the close', () => {
  let s = NEW_STANDING;
  assert.ok(s.probationary);
  s = nextStanding(s, 'refused');
  s = nextStanding(s, 'other');
  assert.equal(s, { probationary: true, refused: 1 }, 'a malformed request neither earns nor loses');
  s = nextStanding(s, 'accepted');
  assert.equal(s, { probationary: false, refused: 0 });
  for (let i = 0; i < 3; i++) s = nextStanding(s, 'refused');
  assert.equal(s, { probationary: false, refused: 3 }, 'refusals never put a connection back on probation');
  assert.not.ok(refusedTooOften(s, 4));
  assert.ok(refusedTooOften(nextStanding(s, 'refused'), 4));
  assert.is(NEW_STANDING.refused, 0, 'the starting standing is never changed');
});

test('address key: IPv4 as is, IPv4-mapped unwrapped, IPv6 by its /64', () => {
  assert.is(addressKey('127.1.0.3'), '127.1.0.3');
  assert.is(addressKey('::ffff:10.0.0.7'), '10.0.0.7');
  assert.is(addressKey('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
  assert.is(addressKey('2001:db8:0:1:bbbb:cccc:dddd:eeee'), '2001:db8:0:1::/64', 'one /64, one host');
  assert.is(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.is(addressKey('::1'), '0:0:0:0::/64');
  assert.is(addressKey(undefined), 'unknown');
});

test('hotkey share: each hotkey has its own, given back on release', () => {
  const shares = new HotkeyShares(2);
  assert.ok(shares.take('a'));
  assert.ok(shares.take('a'));
  assert.not.ok(shares.take('a'), 'a is full');
  assert.ok(shares.take('b'), 'b is not held back by a');
  shares.release('a');
  assert.ok(shares.take('a'));
  shares.release('a');
  shares.release('a');
  shares.release('b');
  assert.is(shares.of('a') + shares.of('b'), 0);
});

test('flood report: one summary per period from the threshold, with the top offenders; quiet below it', () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const report = new FloodReport(log, 60_000, 5);
  const since = Date.now();
  for (let i = 0; i < 6; i++) report.refusedRequest('not_allowed', '10.0.0.1', 'hotkeyA');
  report.refusedRequest('replay', '10.0.0.2', 'hotkeyB');
  report.connectionEvent('displaced', '10.0.0.3');
  const summary = report.flush(since + 60_000)!;
  assert.equal(summary.refused, { not_allowed: 6, replay: 1 });
  assert.equal(summary.connections, { displaced: 1 });
  assert.equal(summary.topAddresses[0], { address: '10.0.0.1', count: 6 });
  assert.equal(summary.topHotkeys.map((h) => h.hotkey), ['hotkeyA', 'hotkeyB']);
  assert.is(lines.length, 1, 'one line for eight refusals');
  assert.match(lines[0]!, /refused 8 requests and connections/);
  report.refusedRequest('not_allowed', '10.0.0.1', 'hotkeyA');
  assert.is(report.flush(), null, 'a new period starts empty; one refusal is below the threshold');
  assert.is(lines.length, 1);
});

test('arrivals: an address that earned nothing has a bucket; one that earned is let in until its time is up', () => {
  const arrivals = new Arrivals({ newConnectionsPerSecond: 2, newConnectionsBurst: 3, earnedAddressMs: 1000, tableSize: 100 });
  const admitted = (address: string, at: number, n: number) => Array.from({ length: n }, () => arrivals.admit(address, at)).filter(Boolean).length;
  assert.is(admitted('a', 0, 5), 3, 'the burst, then refused');
  assert.is(admitted('a', 500, 5), 1, 'half a second refills one of 2/s');
  assert.is(admitted('b', 500, 2), 2, 'each address has its own bucket');
  arrivals.earn('a', 600);
  assert.is(admitted('a', 700, 50), 50, 'earned: not limited');
  assert.is(admitted('a', 1600, 1), 1, 'until its time is up; then its bucket again (refilled meanwhile)');
  assert.is(admitted('a', 1600, 5), 1, 'the bucket refilled 2.2 tokens over 1.1 s at 2/s: one more whole token');
});

test('limits: defaults resolve, the reserve follows maxConnections unless set', () => {
  assert.equal(resolveLimits(), { ...DEFAULT_LIMITS });
  assert.is(resolveLimits({ maxConnections: 40 }).reservedConnections, 10);
  assert.is(resolveLimits({ maxConnections: 40, reservedConnections: 39 }).reservedConnections, 39);
  assert.is(resolveLimits({ ratePerSecond: 0.5 }).ratePerSecond, 0.5, 'a rate may be a fraction');
});

test('limits: 0, negative, fractional, absurd, non-numeric and unknown values fail with the limit named', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ maxConnections: 0 }, /^axon limit maxConnections must be a whole number > 0/],
    [{ maxConnectionsPerAddress: -1 }, /maxConnectionsPerAddress must be a whole number > 0/],
    [{ maxRefusedPerConnection: 2.5 }, /maxRefusedPerConnection must be a whole number/],
    [{ reservedConnections: 0 }, /reservedConnections must be a whole number > 0/],
    [{ reservedConnections: 256 }, /reservedConnections \(256\) must be below maxConnections \(256\)/],
    [{ maxConnections: 10, reservedConnections: 64 }, /reservedConnections \(64\) must be below maxConnections \(10\)/],
    [{ maxPendingPerHotkey: 1e12 }, /maxPendingPerHotkey must be .* ≤ 10000000, not 1000000000000/],
    [{ closeTimeoutMs: Infinity }, /closeTimeoutMs/],
    [{ floodReportIntervalMs: NaN }, /floodReportIntervalMs/],
    [{ floodReportMinRefusals: '100' }, /floodReportMinRefusals must be a whole number > 0/],
    [{ ratePerSecond: 0 }, /ratePerSecond must be a number > 0/],
    [{ newConnectionsPerSecond: -5 }, /newConnectionsPerSecond must be a number > 0/],
    [{ newConnectionsBurst: 0 }, /newConnectionsBurst must be a whole number > 0/],
    [{ earnedAddressMs: 1e15 }, /earnedAddressMs must be/],
    [{ maxConections: 10 }, /axon limit maxConections is unknown/],
  ];
  for (const [overrides, why] of cases) assert.throws(() => resolveLimits(overrides as never), why, JSON.stringify(overrides));
});

test.run();
