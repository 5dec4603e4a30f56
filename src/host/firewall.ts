// Installs firewall-rules.ts's plan with iptables, idempotently, and keeps it in place: each
// chain is replaced whole (iptables-restore --noflush touches only the chains it names), and
// each jump is kept first in its built-in chain, so a daemon that re-inserts its own rules on
// restart does not get ahead of ours. Only COMPUTE-MINER-* chains and jumps to them are touched.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';
import { firewallPlan, jumpIsFirst, type FirewallPlan } from './firewall-rules.js';

const run = promisify(execFile);

export interface FirewallTools {
  iptables: string;
  ip6tables: string;
  iptablesRestore: string;
  ip6tablesRestore: string;
}

export const DEFAULT_FIREWALL_TOOLS: Readonly<FirewallTools> = Object.freeze({
  iptables: 'iptables', ip6tables: 'ip6tables', iptablesRestore: 'iptables-restore', ip6tablesRestore: 'ip6tables-restore',
});

export class FirewallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FirewallError';
  }
}

function failure(cmd: string, err: unknown): FirewallError {
  const e = err as NodeJS.ErrnoException & { stderr?: string };
  if (e.code === 'ENOENT') return new FirewallError(`${cmd} is not installed (apt-get install iptables): rentals cannot be isolated`);
  return new FirewallError(`${cmd}: ${(e.stderr ?? e.message).trim().split('\n').slice(-1)[0]}`);
}

async function restore(cmd: string, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile(cmd, ['-w', '--noflush'], { timeout: 30_000 }, (err, _out, stderr) => {
      if (err) reject(failure(cmd, Object.assign(err, { stderr })));
      else resolve();
    });
    child.stdin?.end(text);
  });
}

async function listing(cmd: string, table: string, chain: string): Promise<string | null> {
  try {
    return (await run(cmd, ['-w', '-t', table, '-S', chain])).stdout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw failure(cmd, err);
    return null; // no such chain (DOCKER-USER without Docker's iptables)
  }
}

/** Makes `from` start with a jump to `to`; returns whether it had to change anything. */
async function keepJumpFirst(cmd: string, table: string, from: string, to: string): Promise<boolean> {
  const now = await listing(cmd, table, from);
  if (now === null || jumpIsFirst(now, from, to)) return false;
  // Remove stale copies further down, then put one at the top.
  for (;;) {
    try { await run(cmd, ['-w', '-t', table, '-D', from, '-j', to]); } catch { break; }
  }
  try {
    await run(cmd, ['-w', '-t', table, '-I', from, '1', '-j', to]);
  } catch (err) {
    throw failure(cmd, err);
  }
  return true;
}

async function chainsPresent(tools: FirewallTools, plan: FirewallPlan): Promise<boolean> {
  for (const j of plan.jumps) {
    const cmd = j.family === 'ipv4' ? tools.iptables : tools.ip6tables;
    if ((await listing(cmd, j.table, j.to)) === null) return false;
  }
  return true;
}

export interface FirewallResult {
  /** What had to be put back (empty when everything was in place). */
  changed: string[];
}

/** Installs the rules, or puts back what is missing. `full` replaces our chains' contents too. */
export async function ensureFirewall(rentalSubnet: string, tools: FirewallTools = DEFAULT_FIREWALL_TOOLS, full = true): Promise<FirewallResult> {
  const plan = firewallPlan(rentalSubnet);
  const changed: string[] = [];
  if (full || !(await chainsPresent(tools, plan))) {
    for (const t of plan.tables) {
      await restore(t.family === 'ipv4' ? tools.iptablesRestore : tools.ip6tablesRestore, t.text);
    }
    changed.push('chains');
  }
  for (const j of plan.jumps) {
    const cmd = j.family === 'ipv4' ? tools.iptables : tools.ip6tables;
    if (await keepJumpFirst(cmd, j.table, j.from, j.to)) changed.push(`${j.family} ${j.table} ${j.from}`);
  }
  return { changed };
}

export const FIREWALL_CHECK_INTERVAL_MS = 10_000;

export interface FirewallKeeper {
  state(): { applied: boolean; error?: string; checkedAt?: string };
  stop(): void;
}

/**
 * Installs the rules now and checks them every `intervalMs`: a daemon restart or a flush that
 * moved or removed them is repaired and logged once per repair.
 */
export async function keepFirewall(rentalSubnet: string, log: Logger, opts: { tools?: FirewallTools; intervalMs?: number } = {}): Promise<FirewallKeeper> {
  const tools = opts.tools ?? DEFAULT_FIREWALL_TOOLS;
  let state: { applied: boolean; error?: string; checkedAt?: string } = { applied: false };
  const check = async (full: boolean) => {
    try {
      const { changed } = await ensureFirewall(rentalSubnet, tools, full);
      if (!full && changed.length > 0) log.warn({ restored: changed }, 'rental firewall rules were moved or removed: restored');
      if (!state.applied) log.info({ subnet: rentalSubnet }, 'rental firewall rules installed');
      state = { applied: true, checkedAt: new Date().toISOString() };
    } catch (err) {
      const message = (err as Error).message;
      if (state.error !== message) log.error({ err: message }, 'rental firewall rules cannot be installed');
      state = { applied: false, error: message, checkedAt: new Date().toISOString() };
    }
  };
  await check(true);
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void check(!state.applied).finally(() => { busy = false; });
  }, opts.intervalMs ?? FIREWALL_CHECK_INTERVAL_MS);
  timer.unref();
  return { state: () => ({ ...state }), stop: () => clearInterval(timer) };
}
