// Allocate: rent, check, release and act on a container. One schema; the case table of
// PROTOCOL.md is decided by `allocateIntent` so handlers never re-derive it.
import { z } from 'zod';
import { rsaPublicKeyProblem, sshPublicKeyProblem } from '../keys.js';

export const MIN_RAM_BYTES = 64 * 1024 * 1024;
export const MAX_SIZE_BYTES = 2 ** 50; // 1 PiB: beyond any host, refused as absurd
export const MAX_TIMELINE_DAYS = 3650;
export const MAX_CPU_COUNT = 4096;
export const MAX_DOCKERFILE_LENGTH = 64 * 1024;
/** Most host keys a reply may carry, and the longest line (an RSA-16384 key is about 2.8 KiB). */
export const MAX_HOST_KEYS = 16;
export const MAX_HOST_KEY_LENGTH = 8192;
export const DOCKER_ACTIONS = ['exchange_key', 'restart', 'pause', 'unpause', 'resume'] as const;
export type DockerAction = (typeof DOCKER_ACTIONS)[number];

const int = (label = 'must be an integer') => z.number({ invalid_type_error: label }).int(label);
const size = (min: number) => int().min(min, `must be ≥ ${min}`).max(MAX_SIZE_BYTES, `must be ≤ ${MAX_SIZE_BYTES}`);

const gpuSchema = z.object({
  count: z.union([int().min(0, 'must be ≥ 0').max(1024, 'must be ≤ 1024'), z.literal('all')], {
    errorMap: () => ({ message: 'must be an integer ≥ 0 or "all"' }),
  }).optional(),
  capacity: z.number().finite().nonnegative('must be ≥ 0').optional(),
  type: z.string().max(256).optional(),
}).default({});

const deviceRequirementSchema = z.object({
  cpu: z.object({ count: int().min(1, 'must be ≥ 1').max(MAX_CPU_COUNT, `must be ≤ ${MAX_CPU_COUNT}`) }).optional(),
  ram: z.object({ capacity: size(MIN_RAM_BYTES) }).optional(),
  hard_disk: z.object({ capacity: size(0) }).optional(),
  gpu: gpuSchema,
  testing: z.boolean().default(false),
}).default({});

const dockerRequirementSchema = z.object({
  base_image: z.string().max(256).optional(),
  ssh_key: z.string().max(16 * 1024).default(''),
  ssh_port: int().min(0).max(65535).optional(),
  volume_path: z.string().max(4096).optional(),
  dockerfile: z.string().max(MAX_DOCKERFILE_LENGTH, `must be ≤ ${MAX_DOCKERFILE_LENGTH} characters`).default(''),
}).default({});

const dockerActionSchema = z.object({
  action: z.string().max(64).default(''),
  ssh_key: z.string().max(16 * 1024).default(''),
  key_type: z.string().max(64).default(''),
}).default({});

export const allocateRequestSchema = z.object({
  timeline: z.number({ invalid_type_error: 'must be a number' }).finite().min(0, 'must be ≥ 0').max(MAX_TIMELINE_DAYS, `must be ≤ ${MAX_TIMELINE_DAYS}`).default(0),
  device_requirement: deviceRequirementSchema,
  checking: z.boolean().default(true),
  public_key: z.string().max(8192).default(''),
  docker_requirement: dockerRequirementSchema,
  docker_change: z.boolean().default(false),
  docker_action: dockerActionSchema,
}).superRefine((req, ctx) => {
  const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  // Which fields are required follows from the case the request is (one table, below).
  const intent = allocateIntent(req);
  const acts = intent.kind === 'action';
  const wantsResources = intent.kind === 'check-free' || intent.kind === 'allocate';
  if (wantsResources) {
    if (!req.device_requirement.cpu) problem(['device_requirement', 'cpu', 'count'], 'is required');
    if (!req.device_requirement.ram) problem(['device_requirement', 'ram', 'capacity'], 'is required');
    if (!req.device_requirement.hard_disk) problem(['device_requirement', 'hard_disk', 'capacity'], 'is required');
  }
  const needsHolderKey = intent.kind !== 'check-free';
  if (req.public_key === '') {
    if (needsHolderKey) problem(['public_key'], 'is required');
  } else {
    const why = rsaPublicKeyProblem(req.public_key);
    if (why) problem(['public_key'], why);
  }
  if (req.docker_requirement.ssh_key !== '') {
    const why = sshPublicKeyProblem(req.docker_requirement.ssh_key);
    if (why) problem(['docker_requirement', 'ssh_key'], why);
  }
  if (acts) {
    const { action, ssh_key, key_type } = req.docker_action;
    if (!(DOCKER_ACTIONS as readonly string[]).includes(action)) {
      problem(['docker_action', 'action'], `must be one of ${DOCKER_ACTIONS.join(', ')}`);
    }
    if (action === 'exchange_key') {
      if (!['user', 'terminal', ''].includes(key_type)) problem(['docker_action', 'key_type'], 'must be user or terminal');
      const why = ssh_key === '' ? 'is required for exchange_key' : sshPublicKeyProblem(ssh_key);
      if (why) problem(['docker_action', 'ssh_key'], why);
    }
  }
});
export type AllocateRequest = z.infer<typeof allocateRequestSchema>;

export const allocateOutputSchema = z.object({
  status: z.boolean(),
  info: z.string().optional(),
  // Version 1 addition: the rental's SSH host public keys as OpenSSH lines, for the renter to pin.
  host_keys: z.array(z.string().max(MAX_HOST_KEY_LENGTH)).max(MAX_HOST_KEYS).optional(),
  port: z.number().int().min(0).max(65535),
  // Version 1 additions: where to connect when the rental is on another machine of the miner,
  // and the renter's own published ports (container port → host port).
  host: z.string().min(1).max(253).optional(),
  ports: z.record(z.string().regex(/^\d{1,5}$/), z.number().int().min(1).max(65535)).optional(),
  error: z.string().optional(),
});
export type AllocateOutput = z.infer<typeof allocateOutputSchema>;
export const allocateResponseSchema = z.object({ output: allocateOutputSchema });
export type AllocateResponse = z.infer<typeof allocateResponseSchema>;

/** The JSON that `info` encrypts. */
export interface AllocateCredentials {
  username: 'root';
  password: string;
  port: number;
  version: number;
}

export type AllocateIntent =
  | { kind: 'check-free' }
  | { kind: 'check-holder' }
  | { kind: 'allocate' }
  | { kind: 'deallocate' }
  | { kind: 'action'; action: 'exchange_key'; keyType: 'user' | 'terminal'; sshKey: string }
  | { kind: 'action'; action: 'restart' | 'pause' | 'unpause' };

/** The fields that decide the case. */
type IntentFields = { checking: boolean; timeline: number; docker_change: boolean; docker_action: z.infer<typeof dockerActionSchema> };

/** PROTOCOL.md's case table, as a pure function of a validated request. */
export function allocateIntent(req: IntentFields): AllocateIntent {
  // `checking` is a question whatever else is set: the table's checking rows ignore docker_change.
  if (req.checking) return req.timeline > 0 ? { kind: 'check-free' } : { kind: 'check-holder' };
  if (req.docker_change) {
    const { action, key_type, ssh_key } = req.docker_action;
    if (action === 'exchange_key') return { kind: 'action', action, keyType: key_type === 'terminal' ? 'terminal' : 'user', sshKey: ssh_key };
    if (action === 'resume' || action === 'unpause') return { kind: 'action', action: 'unpause' };
    return { kind: 'action', action: action as 'restart' | 'pause' };
  }
  return req.timeline > 0 ? { kind: 'allocate' } : { kind: 'deallocate' };
}
