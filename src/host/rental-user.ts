// The user whose subordinate ids the rental daemon maps a rental's users to (--userns-remap): a
// system user without a home or login shell, owning one range in /etc/subuid and /etc/subgid.
// Made idempotently as root; an operator's existing entries are kept, never rewritten.
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { planRange, parseSubordinateFile, subordinateEntry, type SubordinateRange } from './subordinate-ids.js';

const run = promisify(execFile);

/** The rental daemon's --userns-remap user. */
export const RENTAL_USER = 'compute-miner-rental';

export interface SubordinateFiles {
  subuid: string;
  subgid: string;
}
export const SUBORDINATE_FILES: Readonly<SubordinateFiles> = Object.freeze({ subuid: '/etc/subuid', subgid: '/etc/subgid' });

const readRanges = (file: string) => parseSubordinateFile(existsSync(file) ? readFileSync(file, 'utf8') : '');

function appendLine(file: string, line: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  appendFileSync(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}${line}\n`, { mode: 0o644 });
}

async function ensureSystemUser(name: string): Promise<void> {
  if (await run('getent', ['passwd', name]).then(() => true, () => false)) return;
  await run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name]);
}

/**
 * Makes `name` and its subordinate range exist; returns the range (a rental's uid 0 is its
 * start on the host). Throws, naming the entries, when the files hold something it cannot use.
 */
export async function ensureRentalUser(name = RENTAL_USER, files: SubordinateFiles = SUBORDINATE_FILES): Promise<SubordinateRange> {
  await ensureSystemUser(name);
  const plan = planRange(name, readRanges(files.subuid), readRanges(files.subgid));
  if (plan.action === 'refuse') throw new Error(`the rental user's subordinate ids: ${plan.why}`);
  if (plan.action === 'add') {
    appendLine(files.subuid, subordinateEntry(plan.range));
    appendLine(files.subgid, subordinateEntry(plan.range));
  }
  return plan.range;
}
