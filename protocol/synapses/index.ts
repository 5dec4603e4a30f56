// Each synapse's request and response schema, by name.
import { allocateRequestSchema, allocateResponseSchema } from './allocate.js';
import { challengeRequestSchema, challengeResponseSchema } from './challenge.js';
import { specsRequestSchema, specsResponseSchema } from './specs.js';
import type { SynapseName } from '../status.js';

export const SYNAPSES = {
  Specs: { request: specsRequestSchema, response: specsResponseSchema },
  Allocate: { request: allocateRequestSchema, response: allocateResponseSchema },
  Challenge: { request: challengeRequestSchema, response: challengeResponseSchema },
} as const satisfies Record<SynapseName, unknown>;
