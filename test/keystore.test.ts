import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateHotkey } from '../src/keystore.js';
import { isSs58 } from '../protocol/index.js';

const dir = mkdtempSync(join(tmpdir(), 'keystore-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('creates a hotkey file of mode 0600 once, then loads the same key', () => {
  const path = join(dir, 'sub', 'hotkey.json');
  const first = loadOrCreateHotkey(path);
  assert.ok(first.created);
  assert.ok(isSs58(first.hotkey.ss58Address));
  assert.is(statSync(path).mode & 0o777, 0o600);
  const text = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(Object.keys(text).sort(), ['publicKey', 'secretSeed', 'ss58Address']);
  const second = loadOrCreateHotkey(path);
  assert.not.ok(second.created);
  assert.is(second.hotkey.ss58Address, first.hotkey.ss58Address);
});

test('a corrupt key file is an error naming the file, and is left as it was', () => {
  const path = join(dir, 'corrupt.json');
  writeFileSync(path, '{"secretSeed": "0x1234"}');
  assert.throws(() => loadOrCreateHotkey(path), /corrupt\.json: key file: secretSeed/);
  assert.is(readFileSync(path, 'utf8'), '{"secretSeed": "0x1234"}');
});

test('a key file readable by others is reported', () => {
  const path = join(dir, 'loose.json');
  loadOrCreateHotkey(path);
  chmodSync(path, 0o644);
  assert.ok(loadOrCreateHotkey(path).looseMode);
});

test.run();
