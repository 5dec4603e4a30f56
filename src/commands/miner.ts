// `miner`: runs the miner until SIGINT/SIGTERM; SIGHUP re-reads the validators file.
import { readFileSync } from 'node:fs';
import { wantsHelp, wantsVersion } from '../args.js';
import { MINER_USAGE, parseMinerArgs } from '../config.js';
import { DataDirLockedError } from '../data-dir-lock.js';
import { createLogger } from '../log.js';
import { startMiner } from '../miner.js';
import { PACKAGE_VERSION } from '../version.js';
import { EXIT_DATA_DIR_LOCKED } from './exit-codes.js';
import { UsageError } from './usage.js';
import { HostsFileError, readHostsFile } from '../fleet/hosts-file.js';

/** How long a stopped miner waits for its log to be written before it exits anyway. */
export const STOPPED_EXIT_GRACE_MS = 5000;

export async function runMiner(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(MINER_USAGE);
    return 0;
  }
  // `npm start -- --version` runs "miner --version".
  if (wantsVersion(argv)) {
    process.stdout.write(`compute-miner ${PACKAGE_VERSION}\n`);
    return 0;
  }
  const parsed = parseMinerArgs(argv, { env: process.env, readFile: (path) => readFileSync(path, 'utf8') });
  if (!parsed.ok) throw new UsageError(parsed.error);
  const config = parsed.config;
  // The hosts file and its TLS files are checked before anything starts, as every flag is.
  if (config.hostsFile !== undefined) {
    try {
      readHostsFile(config.hostsFile);
    } catch (err) {
      if (err instanceof HostsFileError) throw new UsageError(`--hosts ${err.message}`);
      throw err;
    }
  }
  const log = createLogger({ format: config.logFormat, level: config.logLevel, file: config.logFile });
  // Signals are caught from the start: one that arrives while the miner starts stops it once started.
  const reloads = config.validatorsFile !== undefined;
  let stopSignal: string | undefined;
  let stopNow: ((signal: string) => void) | undefined;
  const onStop = (signal: string) => {
    stopSignal ??= signal;
    stopNow?.(signal);
  };
  process.once('SIGINT', () => onStop('SIGINT'));
  process.once('SIGTERM', () => onStop('SIGTERM'));
  if (!reloads) process.once('SIGHUP', () => onStop('SIGHUP'));
  // With a validators file, SIGHUP re-reads it (as daemons do); without one it ends the miner like
  // SIGTERM. The axon answers before start-up is over, so a SIGHUP then is kept for when it is.
  let reload: (() => void) | undefined;
  let reloadPending = false;
  if (reloads) process.on('SIGHUP', () => { if (reload) reload(); else reloadPending = true; });
  let miner;
  try {
    miner = await startMiner(config, log, [], { onReloadable: (r) => { reload = r; if (reloadPending) r(); } });
  } catch (err) {
    log.flush?.();
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT_DATA_DIR_LOCKED;
    }
    throw err;
  }
  const running = miner;
  // The address is said once: on a terminal the log line "miner is listening" says it; for
  // scripts reading standard output, this line does.
  if (!process.stdout.isTTY || config.logFile !== undefined) {
    process.stdout.write(`miner hotkey ${running.hotkey.ss58Address} listening on ${config.host}:${running.port}\n`);
  }

  await new Promise<void>((resolve) => {
    let stopping = false;
    stopNow = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping (rented containers keep running and are found again on the next start)');
      running.close().then(resolve, (err) => {
        log.error({ err }, 'error while stopping');
        resolve();
      });
    };
    if (stopSignal) stopNow(stopSignal);
  });
  log.flush?.();
  // Stopped: only log lines may be left to write. A log reader that stopped reading (a stalled
  // pipe) holds a write forever; it must not keep a stopped miner alive.
  setTimeout(() => process.exit(0), STOPPED_EXIT_GRACE_MS).unref();
  return 0;
}
