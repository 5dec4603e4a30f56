// The RequestContext a plugin receives. Its AbortSignal and child logger are made only when a
// handler asks for them, so a request whose handler uses neither costs neither.
import type { Logger } from '../log.js';
import type { RequestContext } from './synapse.js';

export class AxonRequestContext implements RequestContext {
  private childLog: Logger | undefined;
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;

  constructor(
    readonly hotkey: string,
    readonly stake: number,
    readonly deadline: number,
    readonly receivedAt: number,
    private readonly parentLog: Logger,
    private readonly synapse: string,
    private readonly id: number,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal (now, or as soon as it is first asked for); only the first reason counts. */
  abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  get log(): Logger {
    this.childLog ??= this.parentLog.child({ synapse: this.synapse, validator: this.hotkey, id: this.id });
    return this.childLog;
  }
}
