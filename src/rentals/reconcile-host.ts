// One host's reconcile, applied: the runtime lists what is ours by label, reconcilePlan decides,
// and each step is taken and logged. Runs in the host's queue; a rental's end in its own.
import type { Logger } from '../log.js';
import type { HostView } from './hosts.js';
import type { Ledger } from './ledger.js';
import type { Rental } from './record.js';
import { reconcilePlan } from './reconcile.js';

export async function reconcileHost(view: HostView, ledger: Ledger, log: Logger, end: (rental: Rental, why: string) => Promise<void>): Promise<void> {
  const runtime = view.host.runtime;
  const host = view.host.name;
  const found = await runtime.list();
  const known = new Set(ledger.all().map((r) => r.id));
  const plan = reconcilePlan(ledger.onHost(host), found, known, Date.now());
  for (const orphan of plan.orphans) {
    log.warn({ host, container: orphan.name, rental: orphan.rentalId }, 'removing a container of this miner that no rental holds');
    await runtime.destroy({ container: orphan.container, name: orphan.name, image: orphan.name, ownImage: false });
  }
  for (const rental of plan.clear) {
    log.warn({ host, rental: rental.id }, 'the rental\'s container no longer exists: clearing the rental');
    ledger.drop(rental.id);
  }
  for (const rental of plan.resume) {
    log.info({ host, rental: rental.id }, 'starting the rental\'s container again');
    await runtime.resume(rental.workload!);
  }
  for (const rental of [...plan.resume, ...plan.keep]) {
    // A rental adopted from an older record learns its renter ports from its container.
    const w = found.find((f) => f.rentalId === rental.id);
    if (w?.renterPorts && Object.keys(rental.grant.renterPorts).length === 0 && Object.keys(w.renterPorts).length > 0) {
      ledger.commit({ ...rental, grant: { ...rental.grant, renterPorts: w.renterPorts } });
    }
    log.info({ host, rental: rental.id, role: rental.role, deadline: new Date(rental.deadline).toISOString() }, 'rental restored');
  }
  // Expired while the miner was down: ended in their own queues, not awaited here.
  for (const rental of plan.expire) void end(rental, 'deadline passed while the miner was down').catch(() => undefined);
}
