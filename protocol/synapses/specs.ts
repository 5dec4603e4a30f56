// Specs: what hardware this miner has.
import { z } from 'zod';
import { uint } from '../schema.js';

export const specsRequestSchema = z.object({ specs_input: z.string().max(4096).optional() });
export type SpecsRequest = z.infer<typeof specsRequestSchema>;

export const specsOutputSchema = z.object({
  cpu: z.object({ count: uint(), frequency: z.number().nonnegative(), vendor: z.string(), model: z.string() }),
  gpu: z.object({
    count: uint(),
    capacity: uint(), // MiB in total, as nvidia-smi reports
    details: z.array(z.object({ name: z.string(), capacity: uint() })),
  }),
  hard_disk: z.object({ total: uint(), free: uint(), used: uint() }),
  ram: z.object({ total: uint(), available: uint(), used: uint(), free: uint() }),
  docker: z.object({ available: z.boolean(), version: z.string() }),
}).passthrough();
export type SpecsOutput = z.infer<typeof specsOutputSchema>;

export const specsResponseSchema = z.object({ specs_output: specsOutputSchema });
export type SpecsResponse = z.infer<typeof specsResponseSchema>;
