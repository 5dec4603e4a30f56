// Hotkey files on disk: created on first use with mode 0600, written atomically.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';
import { fromKeyFile, generateHotkey, toKeyFile, type Hotkey } from '../protocol/index.js';

export function readHotkey(path: string): Hotkey {
  try {
    return fromKeyFile(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/** Loads the hotkey at `path`, creating a new one there when none exists. */
export function loadOrCreateHotkey(path: string): { hotkey: Hotkey; created: boolean; looseMode: boolean } {
  if (existsSync(path)) {
    const looseMode = (statSync(path).mode & 0o077) !== 0;
    return { hotkey: readHotkey(path), created: false, looseMode };
  }
  return { hotkey: createHotkey(path), created: true, looseMode: false };
}

/** A new hotkey, written to `path` (mode 0600, atomically, replacing any file there). */
export function createHotkey(path: string): Hotkey {
  const hotkey = generateHotkey();
  writeFileAtomic(path, `${JSON.stringify(toKeyFile(hotkey), null, 2)}\n`);
  return hotkey;
}
