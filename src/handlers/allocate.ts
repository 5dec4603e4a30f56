// The Allocate synapse: PROTOCOL.md's case table (allocateIntent) mapped onto the container
// manager. Domain refusals are status false with an error; a dependency that is down
// (Docker, the base image still building) is a 503.
import {
  allocateIntent, allocateRequestSchema, encryptAllocationInfo, type AllocateRequest, type AllocateResponse,
} from '../../protocol/index.js';
import { SynapseError, type RequestContext, type SynapsePlugin } from '../axon/synapse.js';
import { UnavailableError } from '../containers/errors.js';
import type { AllocationResult, Outcome, RentalService } from '../rentals/service.js';

/** What a successful allocate puts in the reply beside `status`. */
type Granted = Pick<Extract<AllocationResult, { status: true }>, 'hostKeys' | 'port' | 'host' | 'ports'> & { info: string };

/**
 * Allocates handled at once. Rentals are independent (each has its own queue; questions are
 * answered from the ledger), so one renter's 40 s build holds one slot, not the miner; the bound
 * keeps a flood of builds from taking every handler slot Specs and Challenge need.
 */
export const ALLOCATE_CONCURRENCY = 16;

export function allocatePlugin(manager: Pick<RentalService, 'checkFree' | 'checkHolder' | 'holderPort' | 'sshPort' | 'allocate' | 'deallocate' | 'exchangeKey' | 'restart' | 'pause' | 'unpause'>): SynapsePlugin<typeof allocateRequestSchema, AllocateResponse> {
  const reply = (outcome: Outcome, granted?: Granted, port?: number): AllocateResponse => ({
    output: {
      status: outcome.status,
      ...(granted ? { info: granted.info } : {}),
      // Beside `info` in the signed output, so the renter can pin the rental's host keys.
      ...(granted ? { host_keys: granted.hostKeys } : {}),
      port: granted?.port ?? port ?? manager.sshPort,
      // Where the rental is when it is not on the axon's machine, and the renter's own ports.
      ...(granted?.host !== undefined ? { host: granted.host } : {}),
      ...(granted && Object.keys(granted.ports).length > 0 ? { ports: granted.ports } : {}),
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
    },
  });

  async function decide(req: AllocateRequest, ctx: RequestContext): Promise<AllocateResponse> {
    const intent = allocateIntent(req);
    switch (intent.kind) {
      case 'check-free':
        return reply(await manager.checkFree(req.device_requirement));
      case 'check-holder':
        return reply(await manager.checkHolder(req.public_key), undefined, manager.holderPort(req.public_key));
      case 'allocate': {
        const result = await manager.allocate({
          timelineDays: req.timeline,
          device: req.device_requirement,
          publicKeyPem: req.public_key,
          sshKey: req.docker_requirement.ssh_key,
          dockerfile: req.docker_requirement.dockerfile,
          signal: ctx.signal,
        });
        if (!result.status) return reply(result);
        ctx.log.info({ timeline: req.timeline }, 'allocation made');
        return reply({ status: true }, { ...result, info: encryptAllocationInfo(result.credentials, req.public_key) });
      }
      case 'deallocate': {
        // Read before the rental ends: the reply names the port it had.
        const port = manager.holderPort(req.public_key);
        return reply(await manager.deallocate(req.public_key), undefined, port);
      }
      case 'action': {
        const port = manager.holderPort(req.public_key);
        switch (intent.action) {
          case 'exchange_key': return reply(await manager.exchangeKey(req.public_key, intent.keyType, intent.sshKey), undefined, port);
          case 'restart': return reply(await manager.restart(req.public_key), undefined, port);
          case 'pause': return reply(await manager.pause(req.public_key), undefined, port);
          case 'unpause': return reply(await manager.unpause(req.public_key), undefined, port);
        }
      }
    }
  }

  return {
    name: 'Allocate',
    schema: allocateRequestSchema,
    concurrency: ALLOCATE_CONCURRENCY,
    async forward(req, ctx) {
      try {
        return await decide(req, ctx);
      } catch (err) {
        if (err instanceof UnavailableError) throw new SynapseError(503, err.message);
        throw err;
      }
    },
  };
}
