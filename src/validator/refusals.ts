// What a miner's "no" means for the one who asked: the validator's hotkey is not let in, the
// miner is busy (full, or its queue is), or this key holds no rental there. Pure: reply codes
// and the miner's words in, one kind out, so every command and the checker read a refusal alike
// and only a miner at fault is blamed.
import { Status } from '../../protocol/index.js';

export type RefusalKind = 'not_allowed' | 'busy';

// A full queue is busy; a 503 for a dependency that is down (Docker, the base image) is not.
const BUSY_UNAVAILABLE = /queue is full|retry later|\bbusy\b/i;

/** The kind of a reply code that is not 200, or undefined when the code blames the miner or the request. */
export function refusalOfReply(code: number, message: string): RefusalKind | undefined {
  if (code === Status.FORBIDDEN) return 'not_allowed';
  if (code === Status.TOO_MANY_REQUESTS) return 'busy';
  if (code === Status.UNAVAILABLE && BUSY_UNAVAILABLE.test(message)) return 'busy';
  return undefined;
}

// How miners word "no room now": a single-rental miner already rented out, a fleet whose best
// host has too little free, too few free cores.
const BUSY_ANSWER = /\bbusy\b|rented out|already allocated|not enough free|largest free/i;
// A lack of one resource: busy when the miner has that much in all (its Specs say so).
const SHORT_OF = /^insufficient (CPU|memory|disk|GPU)\b/i;

export interface Totals {
  cpu: number;
  ram: number;
  disk: number;
  gpu: number;
}

/**
 * Whether an Allocate `status: false` error says the miner has no room now (it would take the
 * request when free). "insufficient X" counts as busy only when the miner's `totals` hold the
 * request's X: a miner asked for more than it has is not busy.
 */
export function isBusyAnswer(error: string, asked?: Totals, totals?: Totals): boolean {
  if (BUSY_ANSWER.test(error)) return true;
  const short = SHORT_OF.exec(error)?.[1]?.toLowerCase();
  if (!short || !asked || !totals) return false;
  const key = ({ cpu: 'cpu', memory: 'ram', disk: 'disk', gpu: 'gpu' } as const)[short as 'cpu' | 'memory' | 'disk' | 'gpu'];
  return totals[key] >= asked[key];
}

// The miner's words for a key that holds nothing there: never held, released, or expired.
const NO_RENTAL = /not the holder|no allocation on this miner|no such (container|allocation|rental)/i;

/** Whether a holder request's error means this key holds no rental on the miner (any more). */
export function isNoRentalAnswer(error: string): boolean {
  return NO_RENTAL.test(error);
}

/** One line for a refused hotkey: who was refused, why, and what to do. */
export function notAllowedMessage(hotkey: string, minerMessage: string): string {
  return `the miner does not let validator hotkey ${hotkey} in (${minerMessage}): ask its operator to allow it, or give an allowed one with --hotkey FILE`;
}
