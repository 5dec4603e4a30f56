// Every Docker side effect of the container manager, behind one small interface over
// dockerode. Connection failures become DockerUnavailableError (→ 503 at the axon).
import { PassThrough, type Readable } from 'node:stream';
import Dockerode from 'dockerode';
import { packFiles, unpackFile, type ContainerFile } from './archive.js';
import { UnavailableError } from './errors.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** The daemon does not answer (socket missing, refused, reset). */
export class DockerUnavailableError extends UnavailableError {
  constructor(cause?: unknown) {
    super('Docker daemon unreachable');
    this.name = 'DockerUnavailableError';
    if (cause !== undefined) this.cause = cause;
  }
}

/** An HTTP error answered by the daemon (404 no such container, 409 conflict, ...). */
export function dockerStatus(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown })?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export interface DockerInfo {
  Driver?: string;
  DriverStatus?: Array<[string, string]> | null;
  DockerRootDir?: string;
  NCPU?: number;
  MemTotal?: number;
  ServerVersion?: string;
  Labels?: string[] | null;
  /** `cgroupfs` or `systemd`: how a `cgroupparent` is named. */
  CgroupDriver?: string;
}

/** What the build API can hold a build's RUN steps to (`docker build --network --cpuset-cpus --memory`). */
export interface BuildLimits {
  /** The network the RUN steps join: the rental's own, under its firewall rules. */
  networkmode: string;
  cpusetcpus: string;
  memory: number;
  memswap: number;
  shmsize: number;
  /** A cgroup made for this build (build-cgroup.ts) that holds its RUN steps' processes. */
  cgroupparent?: string;
}

export interface ContainerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** created, running, paused, restarting, exited, dead */
  state: string;
  /** Published TCP ports: container port → host port (listings only). */
  ports?: Record<string, number>;
}

/** What `docker inspect` says of a container beyond its summary: why it is not running. */
export interface ContainerDetail extends ContainerSummary {
  pid: number;
  restartCount: number;
  exitCode: number;
  oomKilled: boolean;
  /** Docker's own error text for a container that could not start, '' when none. */
  error: string;
  finishedAt: string;
  networks: string[];
}

export interface NetworkSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** Containers attached now. */
  containers: number;
}

export interface NetworkCreateOptions {
  Name: string;
  Driver: string;
  CheckDuplicate: boolean;
  Labels: Record<string, string>;
  Options: Record<string, string>;
}

/** A progress line of a pull, import or build (a build step, a byte count, ...). */
export type ProgressFn = (event: { stream?: string; status?: string; progress?: string; error?: string }) => void;

export interface DockerEngine {
  ping(timeoutMs?: number): Promise<boolean>;
  info(): Promise<DockerInfo>;
  /** The labels of an image, or null when there is no such image. */
  imageLabels(ref: string): Promise<Record<string, string> | null>;
  pullImage(ref: string, opts: { timeoutMs: number; onProgress?: ProgressFn }): Promise<void>;
  importImage(tar: Readable, opts: { repo: string; tag: string; changes?: string[]; onProgress?: ProgressFn }): Promise<void>;
  buildImage(contextDir: string, files: string[], opts: { tag: string; labels: Record<string, string>; signal?: AbortSignal; onProgress?: ProgressFn; limits?: BuildLimits }): Promise<void>;
  tagImage(source: string, repo: string, tag: string): Promise<void>;
  /** Removes an image; a missing image is not an error. */
  removeImage(ref: string): Promise<void>;
  /** Removes dangling images carrying every one of `labels` ("key=value"). */
  pruneDanglingImages(labels: string[]): Promise<void>;
  createContainer(options: Dockerode.ContainerCreateOptions): Promise<string>;
  startContainer(id: string): Promise<void>;
  /**
   * Writes `data` to the stdin of a container's main process (docker attach; the container
   * is created with OpenStdin and StdinOnce), closes it, and waits for `ack` on its stdout.
   */
  sendToStdin(id: string, data: string, ack: string, timeoutMs: number): Promise<void>;
  /** Writes files into a container (created, running or stopped) through the archive API. */
  putFiles(id: string, files: ContainerFile[]): Promise<void>;
  /** Starts `cmd` (no shell) in a running container and does not wait for it. */
  execDetached(id: string, cmd: string[]): Promise<void>;
  /** Reads one regular file of at most `maxBytes` from a container through the archive API. */
  getFile(id: string, path: string, maxBytes: number): Promise<Buffer>;
  /** SIGTERM to PID 1, then SIGKILL after `timeoutSeconds`. A missing container is not an error. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  /** Force-removes a container; a missing container is not an error. */
  removeContainer(id: string): Promise<void>;
  /** Changes the cpuset and memory limit of a running container. */
  updateContainer(id: string, limits: { CpusetCpus: string; Memory: number; MemorySwap: number }): Promise<void>;
  renameContainer(id: string, name: string): Promise<void>;
  pauseContainer(id: string): Promise<void>;
  unpauseContainer(id: string): Promise<void>;
  restartContainer(id: string, timeoutSeconds: number): Promise<void>;
  inspectContainer(id: string): Promise<ContainerDetail | null>;
  /** Bytes of an image's own content (what a container of it references from the start). */
  imageSize(ref: string): Promise<number>;
  /** The image's layers as their content digests ("sha256:…"), bottom first. */
  imageLayers(ref: string): Promise<string[]>;
  createNetwork(options: NetworkCreateOptions): Promise<string>;
  /** Removes a network; a missing network is not an error. */
  removeNetwork(idOrName: string): Promise<void>;
  /** Networks carrying every one of `labels` ("key=value"). */
  listNetworks(labels: string[]): Promise<NetworkSummary[]>;
  /** Tags of the images carrying every one of `labels` ("key=value"). */
  listImages(labels: string[]): Promise<string[]>;
  /** Containers (running or not) carrying every one of `labels` ("key=value"). */
  listContainers(labels: string[]): Promise<ContainerSummary[]>;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EACCES', 'ETIMEDOUT', 'ENOTCONN', 'ECONNABORTED']);

function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && UNREACHABLE.has(code);
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUnreachable(err)) throw new DockerUnavailableError(err);
    throw err;
  }
}

async function ignoring404<T>(fn: () => Promise<T>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (dockerStatus(err) !== 404) throw err;
  }
}

/** Waits for the end of a progress stream, failing on an `error` line. */
function followProgress(docker: Dockerode, stream: NodeJS.ReadableStream, onProgress?: ProgressFn): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
      if (err) return reject(err);
      const failed = events.find((e) => e.error || e.errorDetail);
      if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error ?? 'docker reported an error'));
      resolve();
    }, (event: Parameters<ProgressFn>[0]) => onProgress?.(event));
  });
}

function summary(id: string, name: string, labels: Record<string, string> | undefined, state: string): ContainerSummary {
  return { id, name: name.replace(/^\//, ''), labels: labels ?? {}, state };
}

function publishedPorts(ports: Dockerode.Port[] | undefined): Record<string, number> {
  const map: Record<string, number> = {};
  for (const p of ports ?? []) if (p.Type === 'tcp' && p.PublicPort) map[String(p.PrivatePort)] = p.PublicPort;
  return map;
}

export function dockerodeEngine(docker: Dockerode): DockerEngine {
  return {
    async ping(timeoutMs = 2000) {
      const timeout = new Promise<boolean>((resolve) => { const t = setTimeout(() => resolve(false), timeoutMs); t.unref(); });
      return Promise.race([docker.ping().then(() => true, () => false), timeout]);
    },
    info: () => guarded(() => docker.info() as Promise<DockerInfo>),
    imageLabels: (ref) => guarded(async () => {
      try {
        const image = await docker.getImage(ref).inspect();
        return image.Config?.Labels ?? {};
      } catch (err) {
        if (dockerStatus(err) === 404) return null;
        throw err;
      }
    }),
    pullImage: (ref, { timeoutMs, onProgress }) => guarded(async () => {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), timeoutMs);
      try {
        const stream = await docker.pull(ref, { abortSignal: abort.signal });
        await followProgress(docker, stream, onProgress);
      } finally {
        clearTimeout(timer);
      }
    }),
    importImage: (tar, { repo, tag, changes, onProgress }) => guarded(async () => {
      const stream = await docker.importImage(tar, { repo, tag, changes } as object);
      await followProgress(docker, stream, onProgress);
    }),
    buildImage: (contextDir, files, { tag, labels, signal, onProgress, limits }) => guarded(async () => {
      const stream = await docker.buildImage({ context: contextDir, src: files }, { t: tag, labels, rm: true, forcerm: true, abortSignal: signal, ...limits } as Dockerode.ImageBuildOptions);
      await followProgress(docker, stream, onProgress);
    }),
    tagImage: (source, repo, tag) => guarded(async () => { await docker.getImage(source).tag({ repo, tag }); }),
    removeImage: (ref) => guarded(() => ignoring404(() => docker.getImage(ref).remove({ force: true }))),
    pruneDanglingImages: (labels) => guarded(async () => {
      await docker.pruneImages({ filters: { dangling: ['true'], label: labels } });
    }),
    createContainer: (options) => guarded(async () => (await docker.createContainer(options)).id),
    startContainer: (id) => guarded(async () => { await docker.getContainer(id).start(); }),
    sendToStdin: (id, data, ack, timeoutMs) => guarded(async () => {
      const stream = await docker.getContainer(id).attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
      await new Promise<void>((resolve, reject) => {
        let seen = '';
        const stdout = new PassThrough();
        const finish = (err?: Error) => {
          clearTimeout(timer);
          (stream as unknown as { destroy(): void }).destroy();
          if (err) reject(err);
          else resolve();
        };
        const timer = setTimeout(() => finish(new Error(`no "${ack}" from the container within ${timeoutMs} ms`)), timeoutMs);
        stdout.setEncoding('utf8').on('data', (chunk: string) => {
          seen = (seen + chunk).slice(-4096);
          if (seen.includes(ack)) finish();
        });
        docker.modem.demuxStream(stream, stdout, new PassThrough().resume());
        stream.on('error', (err: Error) => finish(err));
        stream.on('end', () => { if (!seen.includes(ack)) finish(new Error(`the container closed its output before "${ack}"`)); });
        // Half-close: the process reads end of input after the data.
        stream.end(data);
      });
    }),
    putFiles: (id, files) => guarded(async () => {
      await docker.getContainer(id).putArchive(await packFiles(files), { path: '/' });
    }),
    execDetached: (id, cmd) => guarded(async () => {
      const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: false, AttachStderr: false });
      // dockerode hands back the (empty) response as a stream even when detached: left open, each
      // such exec would hold a socket to the engine for good.
      const out = (await exec.start({ Detach: true })) as unknown as { destroy?: () => void } | undefined;
      out?.destroy?.();
    }),
    getFile: (id, path, maxBytes) => guarded(async () => {
      const archive = await docker.getContainer(id).getArchive({ path });
      return unpackFile(archive, maxBytes);
    }),
    stopContainer: (id, timeoutSeconds) => guarded(() => ignoring404(async () => {
      try {
        await docker.getContainer(id).stop({ t: timeoutSeconds });
      } catch (err) {
        if (dockerStatus(err) !== 304) throw err; // 304: already stopped
      }
    })),
    removeContainer: (id) => guarded(() => ignoring404(() => docker.getContainer(id).remove({ force: true, v: true }))),
    updateContainer: (id, limits) => guarded(async () => { await docker.getContainer(id).update(limits); }),
    renameContainer: (id, name) => guarded(async () => { await docker.getContainer(id).rename({ name }); }),
    pauseContainer: (id) => guarded(async () => { await docker.getContainer(id).pause(); }),
    unpauseContainer: (id) => guarded(async () => { await docker.getContainer(id).unpause(); }),
    restartContainer: (id, timeoutSeconds) => guarded(async () => { await docker.getContainer(id).restart({ t: timeoutSeconds }); }),
    inspectContainer: (id) => guarded(async () => {
      try {
        const c = await docker.getContainer(id).inspect();
        const state = c.State.Paused ? 'paused' : c.State.Status;
        return {
          ...summary(c.Id, c.Name, c.Config.Labels, state),
          pid: c.State.Pid ?? 0,
          restartCount: c.RestartCount ?? 0,
          exitCode: c.State.ExitCode ?? 0,
          oomKilled: c.State.OOMKilled ?? false,
          error: c.State.Error ?? '',
          finishedAt: c.State.FinishedAt ?? '',
          networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
        };
      } catch (err) {
        if (dockerStatus(err) === 404) return null;
        throw err;
      }
    }),
    imageSize: (ref) => guarded(async () => (await docker.getImage(ref).inspect()).Size ?? 0),
    imageLayers: (ref) => guarded(async () => (await docker.getImage(ref).inspect()).RootFS?.Layers ?? []),
    createNetwork: (options) => guarded(async () => (await docker.createNetwork(options)).id),
    removeNetwork: (idOrName) => guarded(() => ignoring404(() => docker.getNetwork(idOrName).remove())),
    listNetworks: (labels) => guarded(async () => {
      const list = await docker.listNetworks({ filters: { label: labels } });
      return list.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {}, containers: Object.keys(n.Containers ?? {}).length }));
    }),
    listImages: (labels) => guarded(async () => {
      const list = await docker.listImages({ filters: { label: labels } });
      return list.flatMap((i) => (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'));
    }),
    listContainers: (labels) => guarded(async () => {
      const list = await docker.listContainers({ all: true, filters: { label: labels } });
      return list.map((c) => ({ ...summary(c.Id, c.Names[0] ?? c.Id, c.Labels, c.State), ports: publishedPorts(c.Ports) }));
    }),
  };
}

export function connectDocker(socketPath = DEFAULT_DOCKER_SOCKET): Dockerode {
  return new Dockerode({ socketPath });
}
