// Pure: an Allocate request's device_requirement as placement reads it.
import type { AllocateRequest } from '../../protocol/index.js';
import type { PlacementRequest } from './placement.js';

/** Cores default to 1 and bytes to 0 when the request leaves them out, as the single-host manager reads them. */
export function placementRequest(device: AllocateRequest['device_requirement']): PlacementRequest {
  const count = device.gpu?.count;
  return {
    cores: device.cpu?.count ?? 1,
    memoryBytes: device.ram?.capacity ?? 0,
    diskBytes: device.hard_disk?.capacity ?? 0,
    gpus: count === 'all' ? 'all' : count ?? 0,
    testing: device.testing ?? false,
  };
}
