// The holder's actions on its live rental (PROTOCOL.md's docker_action): exchange a key,
// restart, pause, unpause. Each is allowed only from the state it makes sense in, so a repeated
// request says why it did nothing. Run in the rental's queue by the service.
import type { Logger } from '../log.js';
import { authorizedKeysFile, exchangeKey, type KeyType } from '../containers/secrets.js';
import type { HostView } from './hosts.js';
import type { Ledger } from './ledger.js';
import type { Rental } from './record.js';

export interface ActionOutcome {
  status: boolean;
  error?: string;
}

export function rentalActions(ledger: Ledger, log: Logger) {
  async function changeState(rental: Rental, view: HostView, from: 'running' | 'paused', verb: 'pause' | 'unpause'): Promise<ActionOutcome> {
    const health = await view.host.runtime.health(rental.workload!);
    if (health.container !== from) return { status: false, error: `cannot ${verb}: the container is ${health.container}` };
    await view.host.runtime[verb](rental.workload!);
    log.info({ rental: rental.id }, `container ${verb}d`);
    return { status: true };
  }

  return {
    async exchangeKey(rental: Rental, view: HostView, keyType: KeyType, sshKey: string): Promise<ActionOutcome> {
      const health = await view.host.runtime.health(rental.workload!);
      if (health.container !== 'running') return { status: false, error: `cannot exchange keys: the container is ${health.container}` };
      const keys = exchangeKey(rental.keys, keyType, sshKey);
      await view.host.runtime.putFiles(rental.workload!, [authorizedKeysFile(keys)]);
      ledger.commit({ ...rental, keys });
      log.info({ rental: rental.id, keyType }, 'SSH key exchanged');
      return { status: true };
    },
    async restart(rental: Rental, view: HostView): Promise<ActionOutcome> {
      const health = await view.host.runtime.health(rental.workload!);
      if (health.container === 'paused') return { status: false, error: 'cannot restart: the container is paused (unpause it first)' };
      await view.host.runtime.restart(rental.workload!, rental.grant.sshPort);
      log.info({ rental: rental.id }, 'container restarted');
      return { status: true };
    },
    pause: (rental: Rental, view: HostView) => changeState(rental, view, 'running', 'pause'),
    unpause: (rental: Rental, view: HostView) => changeState(rental, view, 'paused', 'unpause'),
  };
}
