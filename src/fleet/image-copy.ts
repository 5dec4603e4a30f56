// An image made ready on another host through the engine API alone (no SSH to hosts): the
// source engine's `docker save` streamed into the target's `docker load`. Image ids survive
// save/load, so "the same id on both" is the check that the copy is the image it claims.
import type Dockerode from 'dockerode';

export class ImageCopyError extends Error {
  override name = 'ImageCopyError';
}

async function imageId(docker: Dockerode, ref: string): Promise<string | null> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
}

/** Follows a load stream to its end; an `error` line in it is a failure. */
function followLoad(docker: Dockerode, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
      if (err) return reject(err);
      const failed = (output ?? []).find((line) => line.error || line.errorDetail);
      if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error));
      resolve();
    });
  });
}

/**
 * Makes `ref` present on `to` with the same image id it has on `from`: nothing is sent when it
 * already is. Resolves to what was done; throws ImageCopyError with one clear line.
 */
export async function ensureImage(from: Dockerode, to: Dockerode, ref: string): Promise<'present' | 'copied'> {
  const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw new ImageCopyError(`image ${ref}: ${what}: ${String((err as Error)?.message ?? err).split('\n')[0]}`);
    }
  };
  const id = await step('reading it on the source engine', () => imageId(from, ref));
  if (id === null) throw new ImageCopyError(`image ${ref}: not on the source engine`);
  if ((await step('reading it on the target engine', () => imageId(to, ref))) === id) return 'present';
  const tar = await step('saving it on the source engine', () => from.getImage(ref).get());
  await step('loading it on the target engine', async () => followLoad(to, await to.loadImage(tar)));
  const loaded = await step('reading it after the load', () => imageId(to, ref));
  if (loaded !== id) throw new ImageCopyError(`image ${ref}: the target engine has id ${loaded ?? 'none'} after the load, not ${id}`);
  return 'copied';
}
