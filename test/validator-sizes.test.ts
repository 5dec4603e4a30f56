// Sizes as typed on the command line (base 1024), the miners file of `validator check`, and
// the verdict table: pure functions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateHotkey } from '../protocol/index.js';
import { formatTable, parseMinersFile } from '../src/commands/validator-check.js';
import { DEFAULT_CHECK_DEVICE, penalisedList, type CheckResult } from '../src/validator/checker.js';
import { formatSize, parseSize } from '../src/validator/sizes.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

test('sizes: suffixes k, m, g, t in base 1024, any case, with an optional b/ib', () => {
  assert.is(parseSize('512m'), 512 * MiB);
  assert.is(parseSize('4g'), 4 * GiB);
  assert.is(parseSize('100g'), 100 * GiB);
  assert.is(parseSize('4G'), 4 * GiB);
  assert.is(parseSize('4GB'), 4 * GiB);
  assert.is(parseSize('4GiB'), 4 * GiB);
  assert.is(parseSize('2k'), 2 * KiB);
  assert.is(parseSize('1t'), 1024 * GiB);
  assert.is(parseSize(' 8g '), 8 * GiB);
});

test('sizes: fractions of a unit, rounded down to whole bytes', () => {
  assert.is(parseSize('1.5g'), 1.5 * GiB);
  assert.is(parseSize('0.5m'), 512 * KiB);
  assert.is(parseSize('.25g'), 256 * MiB);
  assert.is(parseSize('1.1k'), 1126); // 1126.4 bytes
});

test('sizes: a bare number (or with b) is bytes, and must be whole', () => {
  assert.is(parseSize('1073741824'), GiB);
  assert.is(parseSize('0'), 0);
  assert.is(parseSize('100b'), 100);
  assert.throws(() => parseSize('1.5'), /whole number/);
});

test('sizes: everything else is refused with the text and an example', () => {
  for (const bad of ['', 'g', '-1g', '4x', '4 g b', '1e9', '0x10', 'NaN', 'Infinity', '4gg', '1,5g', '4g4']) {
    assert.throws(() => parseSize(bad), (err: Error) => err.message.includes(JSON.stringify(bad)) && /e\.g\. 512m|whole number/.test(err.message), bad);
  }
  assert.throws(() => parseSize('2048t'), /larger than any host/);
  assert.is(parseSize('1024t'), 2 ** 50);
});

test('sizes: formatSize names exact units and falls back to bytes', () => {
  assert.is(formatSize(GiB), '1g');
  assert.is(formatSize(512 * MiB), '512m');
  assert.is(formatSize(1.5 * GiB), '1536m');
  assert.is(formatSize(1000), '1000');
  assert.is(parseSize(formatSize(3 * GiB)), 3 * GiB);
});

test('miners file: URL [HOTKEY] per line, comments and blank lines ignored, mistakes point at the line', () => {
  const hotkey = generateHotkey().ss58Address;
  const text = `# miners\n\nws://127.0.0.1:8091\n127.0.0.1:8092 ${hotkey}  # with its hotkey\nhttp://10.0.0.1:9000\n`;
  assert.equal(parseMinersFile(text, 'm.txt'), [
    { url: 'ws://127.0.0.1:8091/' },
    { url: 'ws://127.0.0.1:8092/', axonHotkey: hotkey },
    { url: 'ws://10.0.0.1:9000/' },
  ]);
  assert.throws(() => parseMinersFile('ws://127.0.0.1:1\nws://127.0.0.1:2 notahotkey\n', 'm.txt'), /m\.txt:2: "notahotkey" is not an SS58/);
  assert.throws(() => parseMinersFile('ws://127.0.0.1\n', 'm.txt'), /m\.txt:1: .*port is missing/);
  assert.throws(() => parseMinersFile('a b c\n', 'm.txt'), /m\.txt:1: expected "URL \[HOTKEY\]"/);
});

const result = (over: Partial<CheckResult>): CheckResult => ({
  url: 'ws://127.0.0.1:1/', hotkey: '5Abcdefghijk', verdict: 'OK', reason: 'fine', totalMs: 1234.4,
  steps: [
    { step: 'check', ms: 10.2, ok: true }, { step: 'allocate', ms: 500.7, ok: true }, { step: 'ssh', ms: 120, ok: true },
    { step: 'proof', ms: 3100, ok: true }, { step: 'deallocate', ms: 200, ok: true, attempts: 1 },
  ],
  measured: null, proof: null, shortfalls: [], asked: DEFAULT_CHECK_DEVICE, claims: null,
  ...over,
});

test('verdict table: one row per miner with its step timings, failed steps marked, a summary line', () => {
  const table = formatTable([
    result({}),
    result({ url: 'ws://127.0.0.1:2/', hotkey: undefined, verdict: 'ALLOCATION_ERROR', reason: 'no answer', steps: [{ step: 'check', ms: 3000, ok: false }], totalMs: 3000 }),
  ]);
  const lines = table.split('\n');
  assert.match(lines[0]!, /^MINER\s+HOTKEY\s+VERDICT\s+CHECK\s+ALLOCATE\s+SSH\s+PROOF\s+RELEASE\s+TOTAL\s+REASON$/);
  assert.match(lines[1]!, /^ws:\/\/127\.0\.0\.1:1\/\s+5Abcdefg…\s+OK\s+10ms\s+501ms\s+120ms\s+3100ms\s+200ms\s+1234ms\s+fine$/);
  assert.match(lines[2]!, /^ws:\/\/127\.0\.0\.1:2\/\s+\?\s+ALLOCATION_ERROR\s+3000ms✗\s+-\s+-\s+-\s+-\s+3000ms\s+no answer$/);
  assert.ok(table.endsWith('1 OK, 1 penalised\n'));
  assert.not.match(table, /\x1b\[/);
  assert.match(formatTable([result({})], true), /\x1b\[32mOK/);
});

test('penalised list: the reference format, only miners not OK', () => {
  assert.equal(penalisedList([result({}), result({ verdict: 'SSH_ACCESS_DISABLED', reason: 'denied', hotkey: undefined })]), [
    { hotkey: null, url: 'ws://127.0.0.1:1/', status_code: 'SSH_ACCESS_DISABLED', description: 'denied' },
  ]);
});

test.run();
