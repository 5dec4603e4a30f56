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

/**
 * The content of the one regular file in a tar from Docker's archive API (GET of a file's
 * path); rejects when it is not a regular file or is larger than `maxBytes`.
 */
export function unpackFile(archive: NodeJS.ReadableStream, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const extract = tar.extract();
    let found: Buffer | undefined;
    let failed = false;
    const fail = (err: Error) => { if (!failed) { failed = true; reject(err); } extract.destroy(); };
    extract.on('entry', (header, stream, next) => {
      if (found !== undefined || header.type !== 'file') { stream.resume(); fail(new Error(`not one regular file (${header.type} ${header.name})`)); return; }
      if ((header.size ?? 0) > maxBytes) { stream.resume(); fail(new Error(`${header.name} is ${header.size} bytes, more than ${maxBytes}`)); return; }
      collect(stream).then((content) => { found = content; next(); }, fail);
    });
    extract.on('finish', () => {
      if (failed) return;
      if (found === undefined) reject(new Error('empty archive'));
      else resolve(found);
    });
    extract.on('error', fail);
    archive.pipe(extract);
  });
}
