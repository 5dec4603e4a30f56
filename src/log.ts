// Structured logs: one JSON object a line, or a human format when stderr is a terminal.
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { pino, destination, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import { fileErrorWords } from './errno-words.js';
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

export function createLogger(options: LogOptions = {}): Logger {
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
    return pino(base, destination({ dest: fd, sync: false }));
  }
  const pretty = options.format === 'pretty' || (options.format !== 'json' && process.stderr.isTTY);
  if (pretty) {
    // On a terminal, log lines go above the progress line (src/terminal-line.ts).
    const line = stderrTerminalLine();
    const destination = line ? new Writable({ write(chunk, _enc, done) { line.writeAbove(chunk as Buffer); done(); } }) : 2;
    return pino(base, PinoPretty({ destination, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', colorize: line !== null, sync: true }));
  }
  return pino(base, destination({ dest: 2, sync: false }));
}

/** A logger that writes nothing, for tests and benches. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
