// Files in and out of a container through Docker's archive API (tar over the daemon socket):
// no process runs in the container, and nothing lands in an image layer or in `docker inspect`.
import tar from 'tar-stream';

export interface ContainerFile {
  /** Absolute path in the container. */
  path: string;
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

/** A tar of `files`, to extract at "/" (leading slashes dropped, no directory entries). */
export function packFiles(files: ContainerFile[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const f of files) {
    pack.entry({ name: f.path.replace(/^\/+/, ''), mode: f.mode, uid: f.uid, gid: f.gid, mtime: new Date(), type: 'file' }, f.content);
  }
  pack.finalize();
  return collect(pack);
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}
