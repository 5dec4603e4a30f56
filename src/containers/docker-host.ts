// What one Docker host is, as its runtime needs it: the engine, its storage driver and data root,
// its facts (cores, memory, the storage pool, GPUs), and the base image made ready on it.
import type Dockerode from 'dockerode';
import type { Logger } from '../log.js';
import type { BaseImageState, HostFacts } from '../rentals/runtime.js';
import { ensureBaseImage } from './base-image.js';
import { dockerodeEngine, DockerUnavailableError, type DockerEngine, type DockerInfo } from './docker.js';
import { countGpus, probeHost } from './host.js';
import { ioDeviceOf } from './io-device.js';
import { imageReferencedBytes } from './layer-bytes.js';
import { storagePolicy, type HostResources, type StoragePolicy } from './options.js';

export interface DockerHostOptions {
  host: string;
  engine: DockerEngine;
  /** A client of the same engine for the base image build, whose import uploads for minutes. */
  transferDocker?: Dockerode;
  dataDir: string;
  baseTag: string;
  baseImage?: { from?: string; pullTimeoutMs?: number };
  /** The engine runs on this machine and the miner is root: its disk and GPUs are read here. */
  localEngine: boolean;
  gpuCount?: number;
  /** How a remote engine's GPUs are counted (through its API, with the base image). */
  countGpus?: () => Promise<number>;
  /** Makes the base image ready instead of building it here (a copy from another host). */
  ensureBase?: () => Promise<void>;
  log: Logger;
}

/** How old the facts of an engine that answers may be before they are read again. */
export const FACTS_MAX_AGE_MS = 10_000;

function factsOf(r: HostResources): HostFacts {
  return {
    cpuCount: r.cpuCount, memoryBytes: r.totalMemoryBytes, diskBytes: r.totalDiskBytes, diskFreeBytes: r.totalDiskBytes === null ? null : r.freeDiskBytes,
    gpuCount: r.gpuCount, storage: r.storage,
  };
}

export function dockerHost(options: DockerHostOptions) {
  const { engine, log } = options;
  let storage: StoragePolicy | undefined;
  let dataRoot: string | undefined;
  let driver: string | undefined;
  let gpuCount = options.gpuCount;
  let base: { state: BaseImageState; error?: string; done: Promise<void> } | undefined;
  let baseBytes: number | undefined;
  let last: HostResources | undefined;
  let readAt = 0;
  let rereading: Promise<HostResources> | undefined;
  let ioDevice: string | null | undefined;

  function storageOf(info: DockerInfo): StoragePolicy {
    driver = info.Driver;
    dataRoot = info.DockerRootDir;
    if (!storage) {
      storage = storagePolicy(info);
      if (!storage.enforced) log.warn(storage.reason);
    }
    return storage;
  }

  async function info(timeoutMs: number): Promise<DockerInfo> {
    if (!(await engine.ping(timeoutMs))) throw new DockerUnavailableError();
    const read = await engine.info();
    storageOf(read);
    return read;
  }

  async function resources(timeoutMs = 2000): Promise<HostResources> {
    const read = await info(timeoutMs);
    // nvidia-smi counts this machine's GPUs; a remote engine's are counted through its API once
    // the base image is there to count them with (none until then).
    if (gpuCount === undefined) {
      if (options.localEngine) gpuCount = await countGpus();
      else if (!options.countGpus) gpuCount = 0;
      else if (base?.state === 'ready') gpuCount = await options.countGpus();
    }
    last = await probeHost(read, gpuCount ?? 0, storageOf(read), options.localEngine);
    readAt = Date.now();
    return last;
  }

  /** What a container of `image` references from the start, which its disk quota must include. */
  async function imageDiskBytes(image: string): Promise<number> {
    if (storage?.countsImage === false) return 0;
    if (driver === 'btrfs' && dataRoot && options.localEngine) {
      try {
        return await imageReferencedBytes(dataRoot, await engine.imageLayers(image));
      } catch (err) {
        if (err instanceof DockerUnavailableError) throw err;
        log.warn({ image, err: (err as Error).message }, 'the image\'s size on the pool is unknown; its byte count is used');
      }
    }
    return engine.imageSize(image);
  }

  function baseImageReady(): Promise<void> {
    if (base && base.state !== 'failed') return base.done;
    const made = options.ensureBase
      ? options.ensureBase()
      : ensureBaseImage(options.transferDocker ? dockerodeEngine(options.transferDocker) : engine, { ...options.baseImage, tag: options.baseTag, dataDir: options.dataDir, log }).then(() => undefined);
    const done = made.then(
      () => {
        base = { state: 'ready', done };
        baseBytes = undefined;
      },
      (err: unknown) => {
        const message = (err as Error).message;
        log.error({ err: message }, 'base image build failed');
        base = { state: 'failed', error: message, done };
        throw err;
      },
    );
    done.catch(() => undefined);
    base = { state: 'building', done };
    return done;
  }

  return {
    engine,
    resources,
    /** Whether the engine answers: decides whether the host is up (what it has is asked apart). */
    ping: (timeoutMs: number) => engine.ping(timeoutMs),
    /**
     * What the host has, read again at most every FACTS_MAX_AGE_MS and in the background once
     * known: `docker info` on a busy engine takes seconds (7 s seen under load), and a busy engine is up.
     */
    async facts(): Promise<HostFacts> {
      const known = last;
      if (known && Date.now() - readAt < FACTS_MAX_AGE_MS) return factsOf(known);
      if (known) {
        rereading ??= resources(10_000).catch(() => known).finally(() => { rereading = undefined; });
        return factsOf(known);
      }
      return factsOf(await resources(10_000));
    },

    /** The last resources read (free memory for /dev/shm), reading them when there are none yet. */
    lastResources: async () => last ?? resources(),
    storage: () => storage,
    driver: () => driver,
    dataRoot: () => dataRoot,
    /**
     * The whole disk under the engine's data root, where rentals' IO limits apply; null for a
     * remote engine (its devices are not this machine's) or a root on no block device.
     */
    ioDevice(): string | null {
      if (ioDevice !== undefined) return ioDevice;
      if (!options.localEngine || !dataRoot) return null;
      const found = ioDeviceOf(dataRoot);
      if (found.device === null) log.warn(`rentals get no disk-IO limits: ${found.reason}`);
      ioDevice = found.device;
      return ioDevice;
    },
    imageDiskBytes,
    async baseImageBytes(): Promise<number> {
      baseBytes ??= await imageDiskBytes(options.baseTag);
      return baseBytes;
    },
    baseImage: () => ({ state: base?.state ?? 'building', ...(base?.error ? { error: base.error } : {}) }),
    baseImageReady,
  };
}

export type DockerHost = ReturnType<typeof dockerHost>;
