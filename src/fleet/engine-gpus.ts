// A remote engine's GPUs, counted through its API alone: a short container of the base image
// asks for every NVIDIA GPU the way `docker run --gpus all` does (a device request of the
// "nvidia" driver, capabilities gpu + utility, which the NVIDIA Container Toolkit answers by
// mounting the devices and nvidia-smi) and lists them. An engine without the toolkit or without
// GPUs refuses the request or lists none: zero GPUs, with the engine's reason.
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';

export interface EngineGpus {
  count: number;
  /** Why the count is zero when the engine gave no GPU (its own words, one line). */
  reason?: string;
}

/** The device request of `docker run --gpus all`, with nvidia-smi's capability. */
export const ALL_GPUS_REQUEST: Readonly<Dockerode.DeviceRequest> = { Driver: 'nvidia', Count: -1, Capabilities: [['gpu', 'utility']] };

/** GPU indexes in `nvidia-smi --query-gpu=index --format=csv,noheader` output; anything else is not a GPU line. Pure. */
export function parseGpuIndexes(text: string): number[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => /^\d{1,3}$/.test(l)).map(Number);
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 300);

export async function countEngineGpus(docker: Dockerode, image: string, labels: Record<string, string>, timeoutMs = 60_000): Promise<EngineGpus> {
  let container: Dockerode.Container | undefined;
  try {
    container = await docker.createContainer({
      Image: image,
      Entrypoint: ['nvidia-smi'],
      Cmd: ['--query-gpu=index', '--format=csv,noheader'],
      Tty: true, // one plain output stream
      Labels: labels,
      NetworkDisabled: true,
      HostConfig: { DeviceRequests: [ALL_GPUS_REQUEST], NetworkMode: 'none', Memory: 256 * 1024 * 1024 },
    });
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    let out = '';
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => { if (out.length < 65536) out += c.toString('utf8'); });
    stream.pipe(sink);
    await container.start();
    const waited = await Promise.race([
      container.wait() as Promise<{ StatusCode: number }>,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nvidia-smi did not finish within ${timeoutMs / 1000} s`)), timeoutMs).unref()),
    ]);
    const gpus = parseGpuIndexes(out);
    if (waited.StatusCode !== 0 || gpus.length === 0) return { count: 0, reason: `nvidia-smi exited with ${waited.StatusCode}: ${out.trim().split('\n').pop()?.slice(0, 300) ?? ''}` };
    return { count: gpus.length };
  } catch (err) {
    // No toolkit: 'could not select device driver "nvidia" with capabilities: [[gpu utility]]'.
    return { count: 0, reason: firstLine(err) };
  } finally {
    await container?.remove({ force: true }).catch(() => undefined);
  }
}
