// The Challenge synapse: protocol's challengeTask() checks the request (a refusal is code 200
// with `error`, no work started); the challenge service queues it FIFO and solves it.
import {
  challengeRequestSchema, challengeTask, DEFAULT_MAX_DIFFICULTY, type ChallengeResponse,
} from '../../protocol/index.js';
import { SynapseError, type SynapsePlugin } from '../axon/synapse.js';
import {
  ChallengeQueueFullError, ChallengeService, type ChallengeServiceOptions,
} from '../challenge/service.js';

export interface ChallengePluginOptions extends ChallengeServiceOptions {
  /** Largest challenge_difficulty accepted; default 12 (DEFAULT_MAX_DIFFICULTY). */
  maxDifficulty?: number;
}

export type ChallengePlugin = SynapsePlugin<typeof challengeRequestSchema, ChallengeResponse> & {
  readonly service: ChallengeService;
  close(): Promise<void>;
};

export function challengePlugin(options: ChallengePluginOptions = {}): ChallengePlugin {
  const maxDifficulty = options.maxDifficulty ?? DEFAULT_MAX_DIFFICULTY;
  if (!Number.isInteger(maxDifficulty) || maxDifficulty < 1) throw new RangeError('maxDifficulty must be an integer ≥ 1');
  const service = new ChallengeService(options);
  return {
    name: 'Challenge',
    schema: challengeRequestSchema,
    // Every challenge the service may hold reaches it at once: the FIFO and its bound live there.
    concurrency: service.maxQueue + 1,
    service,
    async forward(req, ctx) {
      const task = challengeTask(req, maxDifficulty);
      if (typeof task === 'string') return { output: { password: null, local_execution_time: 0, error: task } };
      try {
        const output = await service.submit(task, { receivedAt: ctx.receivedAt, deadline: ctx.deadline, signal: ctx.signal });
        // The service logged the start and the end; this line adds who asked, for debugging.
        ctx.log.debug({ difficulty: task.length, found: output.password !== null, seconds: output.local_execution_time }, 'challenge answered');
        return { output };
      } catch (err) {
        if (err instanceof ChallengeQueueFullError) throw new SynapseError(503, err.message);
        throw err;
      }
    },
    close: () => service.close(),
  };
}
