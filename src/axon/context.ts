// The RequestContext a plugin receives. Its child logger is made only when a handler logs,
// so a request that logs nothing costs no logger.
import type { Logger } from '../log.js';
import type { RequestContext } from './synapse.js';

export class AxonRequestContext implements RequestContext {
  private childLog: Logger | undefined;

  constructor(
    readonly hotkey: string,
    readonly stake: number,
    readonly deadline: number,
    readonly receivedAt: number,
    readonly controller: AbortController,
    private readonly parentLog: Logger,
    private readonly synapse: string,
    private readonly id: number,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get log(): Logger {
    this.childLog ??= this.parentLog.child({ synapse: this.synapse, validator: this.hotkey, id: this.id });
    return this.childLog;
  }
}
