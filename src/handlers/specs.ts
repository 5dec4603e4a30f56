// The Specs synapse: what hardware this miner offers, from a cached host probe.
import { specsRequestSchema, type SpecsResponse } from '../../protocol/index.js';
import type { SynapsePlugin } from '../axon/synapse.js';
import type { SpecsProbe } from '../specs/hardware.js';

/** Specs answers from the probe's cache, so a few at once are plenty. */
export const SPECS_CONCURRENCY = 8;

/**
 * `extras` adds fields to `specs_output` (e.g. the miner's challenge solver); the probed
 * fields always win over an extra of the same name.
 */
export function specsPlugin(
  probe: SpecsProbe,
  extras?: () => Record<string, unknown>,
): SynapsePlugin<typeof specsRequestSchema, SpecsResponse> {
  return {
    name: 'Specs',
    schema: specsRequestSchema,
    concurrency: SPECS_CONCURRENCY,
    async forward() {
      const specs = await probe.read();
      return { specs_output: { ...(extras?.() ?? {}), ...specs } };
    },
  };
}
