// Refused callers named in the miner's log, one line each (who, why, which synapse), so an
// operator sees at once that a validator is turned away. Bounded: each (hotkey, reason) is
// named once a period and at most `maxLines` lines a period, so a flood cannot fill the log;
// the rest are only counted (flood-report.ts sums them up with the top offenders).
import type { Logger } from '../log.js';
import type { RefusalReason } from './replies.js';

// Refusals an operator acts on (a validator to allow, a wrong address or clock) are warnings;
// the load-shedding ones (rate, queue) are information.
const WARN: ReadonlySet<RefusalReason> = new Set(['not_allowed', 'blacklisted', 'wrong_axon', 'bad_signature', 'replay']);

export class RefusalLog {
  private named = new Set<string>();
  private unnamed = 0;
  private since: number;

  constructor(private readonly log: Logger, private readonly periodMs: number, private readonly maxLines: number, now = Date.now()) {
    this.since = now;
  }

  /** A request refused before its handler: `hotkey` is the one it claimed, `address` the peer's. */
  refused(reason: RefusalReason, message: string, hotkey: string, address: string, synapse: string, now = Date.now()): void {
    if (now - this.since >= this.periodMs) this.endPeriod(now);
    const key = `${hotkey}\n${reason}`;
    if (this.named.has(key)) return;
    if (this.named.size >= this.maxLines) {
      this.unnamed++;
      return;
    }
    this.named.add(key);
    const fields = { hotkey: hotkey || '(unreadable)', reason, synapse, address };
    const line = `axon: refused ${synapse || 'a request'} from ${hotkey || 'an unreadable hotkey'}: ${message}`;
    if (WARN.has(reason)) this.log.warn(fields, line);
    else this.log.info(fields, line);
  }

  private endPeriod(now: number): void {
    if (this.unnamed > 0) {
      this.log.info({ unnamed: this.unnamed }, `axon: ${this.unnamed} more refusals in the last ${Math.round((now - this.since) / 1000)} s not named one by one`);
    }
    this.named = new Set();
    this.unnamed = 0;
    this.since = now;
  }
}
