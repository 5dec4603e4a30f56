// test-lane: alone (see scripts/run-tests.mjs)
// The rental firewall: the rules as data (pure), and installed for real with iptables —
// idempotent, kept first in their chains, restored after being removed, and only the miner's
// own chains touched. Rules for outside addresses are checked by reading them, never by
// sending traffic there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { BLOCKED_DESTINATIONS, CHAIN, firewallPlan, jumpIsFirst } from '../src/host/firewall-rules.js';
import { ensureFirewall, keepFirewall, DEFAULT_FIREWALL_TOOLS } from '../src/host/firewall.js';
import { RENTAL_ADDRESS_POOL } from '../src/host/rental-dockerd.js';
import { silentLogger } from '../src/log.js';

const ipt = (...args: string[]) => execFileSync('iptables', ['-w', ...args], { encoding: 'utf8' });

test('firewallPlan: rental bridges reach no host service, no metadata, private or CGNAT address, no other rental; the rest is forwarded and masqueraded', () => {
  const plan = firewallPlan('10.218.0.0/16');
  const filter = plan.tables.find((t) => t.family === 'ipv4' && t.table === 'filter')!.text;
  assert.match(filter, `-A ${CHAIN.input} -i cmr+ -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN`);
  assert.match(filter, `-A ${CHAIN.input} -i cmr+ -j DROP`);
  for (const d of BLOCKED_DESTINATIONS) assert.match(filter, `-A ${CHAIN.forward} -i cmr+ -d ${d} -j DROP`);
  assert.ok(BLOCKED_DESTINATIONS.includes('169.254.0.0/16'));
  assert.match(filter, `-A ${CHAIN.forward} -i cmr+ -o cmr+ -j DROP`);
  // Drops come before the final accept.
  assert.ok(filter.indexOf('-d 169.254.0.0/16 -j DROP') < filter.indexOf(`-A ${CHAIN.forward} -i cmr+ -j ACCEPT`));
  const nat = plan.tables.find((t) => t.table === 'nat')!.text;
  assert.match(nat, `-A ${CHAIN.postrouting} -s 10.218.0.0/16 ! -o cmr+ -j MASQUERADE`);
  const v6 = plan.tables.find((t) => t.family === 'ipv6')!.text;
  assert.match(v6, `-A ${CHAIN.forward} -i cmr+ -j DROP`);
  // Every rule is tagged, every chain is ours.
  for (const t of plan.tables) for (const line of t.text.split('\n').filter((l) => l.startsWith('-A'))) {
    assert.match(line, /--comment compute-miner$/);
    assert.match(line, /^-A COMPUTE-MINER-/);
  }
  assert.ok(plan.jumps.some((j) => j.from === 'DOCKER-USER'));
});

test('jumpIsFirst reads an iptables -S listing', () => {
  const listing = '-P FORWARD DROP\n-A FORWARD -j COMPUTE-MINER-FORWARD\n-A FORWARD -j DOCKER-USER\n';
  assert.ok(jumpIsFirst(listing, 'FORWARD', 'COMPUTE-MINER-FORWARD'));
  assert.not.ok(jumpIsFirst('-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n-A FORWARD -j COMPUTE-MINER-FORWARD\n', 'FORWARD', 'COMPUTE-MINER-FORWARD'));
  assert.not.ok(jumpIsFirst('-P FORWARD ACCEPT\n', 'FORWARD', 'COMPUTE-MINER-FORWARD'));
});

test('ensureFirewall installs the rules idempotently and puts a moved or removed jump back first', async () => {
  await ensureFirewall(RENTAL_ADDRESS_POOL);
  const first = ipt('-S', CHAIN.forward);
  assert.match(first, '-d 169.254.0.0/16 -i cmr+ -m comment --comment compute-miner -j DROP');
  assert.match(first, '-d 100.64.0.0/10 -i cmr+ -m comment --comment compute-miner -j DROP');
  assert.ok(jumpIsFirst(ipt('-S', 'INPUT'), 'INPUT', CHAIN.input));
  assert.ok(jumpIsFirst(ipt('-S', 'FORWARD'), 'FORWARD', CHAIN.forward));
  assert.match(ipt('-t', 'nat', '-S', CHAIN.postrouting), 'MASQUERADE');
  // Again: nothing is duplicated.
  const again = await ensureFirewall(RENTAL_ADDRESS_POOL, DEFAULT_FIREWALL_TOOLS, false);
  assert.equal(again.changed, []);
  assert.is(ipt('-S', 'FORWARD').split('\n').filter((l) => l.includes(`-j ${CHAIN.forward}`)).length, 1);
  assert.is(ipt('-S', CHAIN.forward), first);
  // Someone else inserts a rule ahead of ours, and deletes our INPUT jump: both are repaired.
  ipt('-I', 'FORWARD', '1', '-m', 'comment', '--comment', 'cm-test-foreign', '-j', 'RETURN');
  ipt('-D', 'INPUT', '-j', CHAIN.input);
  try {
    const repaired = await ensureFirewall(RENTAL_ADDRESS_POOL, DEFAULT_FIREWALL_TOOLS, false);
    assert.ok(repaired.changed.includes('ipv4 filter FORWARD'));
    assert.ok(repaired.changed.includes('ipv4 filter INPUT'));
    assert.ok(jumpIsFirst(ipt('-S', 'FORWARD'), 'FORWARD', CHAIN.forward));
    assert.ok(jumpIsFirst(ipt('-S', 'INPUT'), 'INPUT', CHAIN.input));
    // The foreign rule is still there: only our own jumps moved.
    assert.match(ipt('-S', 'FORWARD'), 'cm-test-foreign');
  } finally {
    ipt('-D', 'FORWARD', '-m', 'comment', '--comment', 'cm-test-foreign', '-j', 'RETURN');
  }
});

test('keepFirewall: a flushed chain comes back on the next check; iptables missing is a clear error, not a crash', async () => {
  const keeper = await keepFirewall(RENTAL_ADDRESS_POOL, silentLogger(), { intervalMs: 100 });
  try {
    assert.is(keeper.state().applied, true);
    ipt('-D', 'FORWARD', '-j', CHAIN.forward);
    const end = Date.now() + 5000;
    while (!jumpIsFirst(ipt('-S', 'FORWARD'), 'FORWARD', CHAIN.forward) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.ok(jumpIsFirst(ipt('-S', 'FORWARD'), 'FORWARD', CHAIN.forward), 'jump restored');
  } finally {
    keeper.stop();
  }
  const missing = { ...DEFAULT_FIREWALL_TOOLS, iptables: '/nonexistent/iptables', iptablesRestore: '/nonexistent/iptables-restore' };
  const broken = await keepFirewall(RENTAL_ADDRESS_POOL, silentLogger(), { tools: missing, intervalMs: 60_000 });
  broken.stop();
  assert.is(broken.state().applied, false);
  assert.match(broken.state().error ?? '', /not installed \(apt-get install iptables\): rentals cannot be isolated/);
  await ensureFirewall(RENTAL_ADDRESS_POOL); // leave the real rules in place
});

test.run();
