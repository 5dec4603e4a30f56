// Structured logs: one JSON object a line, or a human format when stderr is a terminal.
// Logging never blocks or stops the miner: a destination that goes away drops lines and
// counts them (log-destination.ts), read by /metrics as miner_log_lines_dropped_total.
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { Counter, type Registry } from 'prom-client';
import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { fileErrorWords } from './errno-words.js';
import { droppedLogLines, fdDestination, guardStandardStreams, type LogDestination } from './log-destination.js';
import { stderrTerminalLine } from './terminal-line.js';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** 'json' always writes JSON lines; 'pretty' forces the human format; 'auto' picks by TTY. */
  format?: 'json' | 'pretty' | 'auto';
  /** Append JSON lines to this file instead of writing to standard error. */
  file?: string;
}

// Secrets that must never reach a log line, wherever they appear in a logged object.
const REDACT = ['password', 'info', 'public_key', 'ssh_key', 'secretSeed', '*.password', '*.ssh_key', '*.public_key', '*.secretSeed'];

/** A Writable over a destination, for pino-pretty: it never pushes back and never errors. */
function writableOver(dest: LogDestination): Writable {
  return new Writable({ write(chunk, _enc, done) { dest.write(String(chunk)); done(); } });
}

export function createLogger(options: LogOptions = {}): Logger {
  guardStandardStreams();
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const base = { level, redact: { paths: REDACT, censor: '[redacted]' }, base: undefined };
  if (options.file !== undefined) {
    let fd: number;
    try {
      mkdirSync(dirname(options.file), { recursive: true });
      fd = openSync(options.file, 'a', 0o640);
    } catch (err) {
      throw new Error(`--log-file ${options.file}: ${fileErrorWords(err)}`);
    }
    return pino(base, fdDestination(fd));
  }
  const pretty = options.format === 'pretty' || (options.format !== 'json' && process.stderr.isTTY);
  if (pretty) {
    // On a terminal, log lines go above the progress line (src/terminal-line.ts).
    const line = stderrTerminalLine();
    const destination = line ? new Writable({ write(chunk, _enc, done) { line.writeAbove(chunk as Buffer); done(); } }) : writableOver(fdDestination(2));
    return pino(base, PinoPretty({ destination, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', colorize: line !== null, sync: true }));
  }
  return pino(base, fdDestination(2));
}

/** miner_log_lines_dropped_total: log lines lost because their destination went away or was full. */
export function registerLogMetrics(registry: Registry): void {
  new Counter({
    name: 'miner_log_lines_dropped_total',
    help: 'Log lines dropped because the log destination went away (a closed pipe) or was full (a full disk)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(droppedLogLines());
    },
  });
}

/** A logger that writes nothing, for tests and benches. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
