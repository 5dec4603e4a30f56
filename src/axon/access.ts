// Which validator hotkeys may call the axon, and with what stake.
//
// Validators file: one entry per line.
//   <ss58> [stake]   allow this hotkey; stake (a number ≥ 0, default 0) orders the queue and
//                    is compared with the minimum stake
//   !<ss58>          deny this hotkey, whatever else says
//   # comment        ignored, as are blank lines and anything after '#' on a line
// Every address is checked as SS58; a bad line fails the whole file with its line number.
import { decodeSs58 } from '../../protocol/index.js';

export interface AccessPolicy {
  /** Let in any hotkey that is not denied (development only). */
  allowAny: boolean;
  /** Allowed hotkeys and their stake. */
  allow: Map<string, number>;
  deny: Set<string>;
  /** Hotkeys whose stake is below this are refused (those not in `allow` have stake 0). */
  minStake: number;
}

export function parseValidatorsFile(text: string): { allow: Map<string, number>; deny: Set<string> } {
  const allow = new Map<string, number>();
  const deny = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}`);
    };
    const words = line.split(/\s+/);
    const denied = words[0]!.startsWith('!');
    const address = denied ? words[0]!.slice(1) : words[0]!;
    try {
      decodeSs58(address);
    } catch (err) {
      fail(`"${address.slice(0, 64)}" is not a hotkey address (${(err as Error).message})`);
    }
    if (denied) {
      if (words.length > 1) fail('a denied hotkey takes no stake');
      deny.add(address);
      continue;
    }
    if (words.length > 2) fail('expected "<ss58> [stake]"');
    let stake = 0;
    if (words.length === 2) {
      stake = Number(words[1]);
      if (!/^\d+(\.\d+)?$/.test(words[1]!) || !Number.isFinite(stake)) fail(`stake "${words[1]}" must be a number ≥ 0`);
    }
    if (allow.has(address)) fail(`${address} is listed twice`);
    allow.set(address, stake);
  }
  return { allow, deny };
}

export type AccessDecision = { ok: true; stake: number } | { ok: false; message: string };

export function decideAccess(policy: AccessPolicy, hotkey: string): AccessDecision {
  if (policy.deny.has(hotkey)) return { ok: false, message: 'hotkey is denied' };
  const stake = policy.allow.get(hotkey);
  if (stake === undefined && !policy.allowAny) return { ok: false, message: 'hotkey is not allowed' };
  if ((stake ?? 0) < policy.minStake) return { ok: false, message: `stake ${stake ?? 0} is below the minimum ${policy.minStake}` };
  return { ok: true, stake: stake ?? 0 };
}
