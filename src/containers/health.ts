// What a rental's container state means to its holder and to /health: running, paused, or
// not running and why. Pure.
import type { ContainerDetail } from './docker.js';

export interface RentalHealth {
  /** running, paused, restarting, exited, dead, created, or gone (no such container). */
  container: string;
  ok: boolean;
  restarts: number;
  /** Why it is not running, in words; absent when it is. */
  reason?: string;
}

/** Reads an inspected container (null: gone) against the restart policy's retry count. */
export function rentalHealth(detail: ContainerDetail | null, restartRetries: number): RentalHealth {
  if (!detail) return { container: 'gone', ok: false, restarts: 0, reason: 'the container no longer exists' };
  const { state, restartCount } = detail;
  if (state === 'running' || state === 'paused') return { container: state, ok: true, restarts: restartCount };
  const cause = detail.oomKilled ? 'killed by the out-of-memory killer' : detail.error ? detail.error : `exit code ${detail.exitCode}`;
  const reason = state === 'restarting'
    ? `restarting after it stopped (${cause}), restart ${restartCount} of ${restartRetries}`
    : state === 'created'
      ? 'created but never started'
      : restartCount >= restartRetries
        ? `${state} (${cause}) after ${restartCount} restarts: Docker will not restart it again`
        : `${state} (${cause})`;
  return { container: state, ok: false, restarts: restartCount, reason };
}
