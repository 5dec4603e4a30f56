// Events reach the people they concern: expiry warnings at 24 h, 1 h and 10 min (only those still
// ahead when the rental was made, each once), an OOM kill and a crash recorded on the rental,
// logged, counted and told to the renter; a stop the miner asked for is no crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/log.js';
import { crashEvent, dueWarning, noticesText, withEvent, type RentalEvent, MAX_RENTAL_EVENTS } from '../src/rentals/events.js';
import { createLedger } from '../src/rentals/ledger.js';
import { createRentalService } from '../src/rentals/service.js';
import { parsePortPool } from '../src/resources/ports.js';
import { memoryRuntime } from './helpers/memory-runtime.js';

const H = 3_600_000;
const M = 60_000;

test('warnings come at 24 h, 1 h and 10 min before the end, each once', () => {
  const rental: { createdAt: number; deadline: number; events: RentalEvent[] } = { createdAt: 0, deadline: 48 * H, events: [] };
  assert.is(dueWarning(rental, 23 * H), null, 'more than a day left');
  const day = dueWarning(rental, 24 * H + M)!;
  assert.is(day.threshold, 24 * H);
  assert.match(day.text, /ends in 24 h/);
  rental.events.push(day);
  assert.is(dueWarning(rental, 30 * H), null, 'the day warning is not given twice');
  const hour = dueWarning(rental, 47 * H)!;
  assert.is(hour.threshold, H);
  rental.events.push(hour);
  assert.is(dueWarning(rental, 47 * H + 30 * M), null);
  const last = dueWarning(rental, 48 * H - 9 * M)!;
  assert.is(last.threshold, 10 * M);
  assert.match(last.text, /ends in 9 min/);
  rental.events.push(last);
  assert.is(dueWarning(rental, 48 * H - M), null);
  assert.is(dueWarning(rental, 48 * H + 1), null, 'past the end: nothing');
});

test('a miner down across two thresholds gives one warning, for the nearest', () => {
  const rental = { createdAt: 0, deadline: 48 * H, events: [] as RentalEvent[] };
  const due = dueWarning(rental, 47 * H + 55 * M)!;
  assert.is(due.threshold, 10 * M);
  rental.events.push(due);
  assert.is(dueWarning(rental, 47 * H + 56 * M), null);
});

test('thresholds already crossed when the rental was made are not warned of', () => {
  const rental = { createdAt: 0, deadline: 30 * M, events: [] as RentalEvent[] };
  assert.is(dueWarning(rental, M), null, 'the 24 h and 1 h thresholds were behind at creation');
  assert.is(dueWarning(rental, 21 * M)!.threshold, 10 * M);
});

test('events are kept to the newest; the notices file has one line each', () => {
  let events: RentalEvent[] = [];
  for (let i = 0; i < MAX_RENTAL_EVENTS + 5; i++) events = withEvent(events, crashEvent(i * 1000, String(i)));
  assert.is(events.length, MAX_RENTAL_EVENTS);
  assert.match(events[0]!.text, /exit code 5\)/);
  const text = noticesText(events.slice(-2));
  assert.is(text.split('\n').length, 3);
  assert.match(text, /^1970-01-01T00:00:23Z  the container stopped \(exit code 23\)/);
});

test('an OOM kill and a crash are recorded on the rental, counted and told to the renter; a stop the miner asked for is not', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-events-'));
  const runtime = memoryRuntime({ cpuCount: 2 });
  const s = createRentalService({
    hosts: [{ name: 'local', endpoint: 'memory://', runtime, sshPorts: parsePortPool('14444-14445', 'ports'), renterPorts: null }],
    ledger: createLedger(dataDir), log: silentLogger(), renterPortsPerRental: 0, defaultDiskBytes: 1024 ** 3, warmPerHost: 0, recheckMs: 60_000,
  });
  try {
    await s.start();
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const r = await s.allocate({ timelineDays: 1, publicKeyPem: pem, sshKey: '', dockerfile: '', device: { cpu: { count: 1 }, ram: { capacity: 1024 ** 3 }, gpu: {}, testing: false } });
    assert.ok(r.status);
    const container = s.ledger.all()[0]!.workload!.container;
    runtime.emit({ container, kind: 'oom', at: Date.now() });
    runtime.emit({ container, kind: 'died', exitCode: '143', at: Date.now() });
    runtime.emit({ container, kind: 'died', exitCode: '1', at: Date.now() });
    runtime.emit({ container: 'not-ours', kind: 'oom', at: Date.now() });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const events = s.ledger.all()[0]!.events ?? [];
    assert.equal(events.map((e) => e.kind), ['oom', 'crash']);
    assert.match(events[0]!.text, /out-of-memory killer: the rental reached 1024 MiB memory limit/);
    assert.equal(s.notices.counts(), { oom: 1, crash: 1, expiring: 0 });
    assert.match(runtime.notices.get(container) ?? '', /out-of-memory[\s\S]*exit code 1/);
    assert.ok(runtime.calls.some((c) => c.startsWith(`notify ${container} a process was killed`)));
    const view = (await s.rentals())[0]!;
    assert.equal(view.events.map((e) => e.kind), ['oom', 'crash']);
    // Recorded in the ledger on disk: a restarted miner still shows them.
    const again = createLedger(dataDir);
    again.load();
    assert.is(again.all()[0]!.events?.length, 2);
  } finally {
    await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
