// The engine's event stream for our containers: an out-of-memory kill and a main process that
// died, as they happen. Followed again after the engine restarts or the stream breaks.
import type Dockerode from 'dockerode';
import type { Logger } from '../log.js';
import type { WorkloadEvent } from '../rentals/runtime.js';

/** How long to wait before following the stream again after it broke. */
export const EVENTS_RETRY_MS = 5_000;

interface EngineEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  time?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** One event line of the engine as a workload event, or null for the ones we do not follow. Pure. */
export function workloadEvent(line: EngineEvent): WorkloadEvent | null {
  const action = line.Action ?? line.status;
  const container = line.Actor?.ID ?? line.id;
  if (!container || (line.Type !== undefined && line.Type !== 'container')) return null;
  const at = (line.time ?? Math.floor(Date.now() / 1000)) * 1000;
  if (action === 'oom') return { container, kind: 'oom', at };
  if (action === 'die') return { container, kind: 'died', exitCode: line.Actor?.Attributes?.exitCode ?? '?', at };
  return null;
}

export function followEngineEvents(docker: Dockerode, labels: string[], onEvent: (event: WorkloadEvent) => void, log: Logger): () => void {
  let stopped = false;
  let stream: NodeJS.ReadableStream | undefined;
  let retry: NodeJS.Timeout | undefined;
  const again = () => {
    if (stopped) return;
    retry = setTimeout(follow, EVENTS_RETRY_MS);
    retry.unref();
  };
  const follow = () => {
    if (stopped) return;
    docker.getEvents({ filters: { type: ['container'], event: ['oom', 'die'], label: labels } }).then((s) => {
      // Stopped while the stream was being opened: it must not keep the process alive.
      if (stopped) {
        (s as unknown as { destroy?: () => void }).destroy?.();
        return;
      }
      stream = s;
      let buffered = '';
      s.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const text = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!text) continue;
          try {
            const event = workloadEvent(JSON.parse(text) as EngineEvent);
            if (event) onEvent(event);
          } catch (err) {
            log.debug({ err: (err as Error).message }, 'an engine event line did not parse');
          }
        }
      });
      s.on('error', () => undefined);
      s.on('close', again);
      s.on('end', again);
    }, again);
  };
  follow();
  return () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
  };
}
