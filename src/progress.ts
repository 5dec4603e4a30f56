// Long work, made visible: a log line when it starts and when it ends, and on a terminal a
// line on standard error that counts the seconds in between (rewritten in place, cleared at
// the end). Work that ends before `showAfterMs` never draws the line.
import type { Logger } from './log.js';
import { stderrTerminalLine, TerminalLine } from './terminal-line.js';

/** Work shorter than this shows no terminal line [1000 ms]. */
export const DEFAULT_PROGRESS_SHOW_AFTER_MS = 1000;
/** How often the terminal line is redrawn [1000 ms]. */
export const DEFAULT_PROGRESS_TICK_MS = 1000;

export interface ProgressOptions {
  log: Logger;
  /** Where the terminal line goes; none when it is not a terminal. Default standard error's line when it is a TTY (shared with the log). */
  terminal?: NodeJS.WriteStream | TerminalLine | null;
  showAfterMs?: number;
  tickMs?: number;
}

export interface Task {
  /** Text after the elapsed seconds on the terminal line (e.g. "12% of the keyspace"). */
  note(text: string): void;
  /** Logs the end with `fields` and the seconds it took. */
  end(message: string, fields?: Record<string, unknown>, level?: 'info' | 'warn'): void;
}

export interface Progress {
  start(label: string, fields?: Record<string, unknown>): Task;
}

export function createProgress(options: ProgressOptions): Progress {
  const terminal = options.terminal === undefined ? stderrTerminalLine()
    : options.terminal === null || options.terminal instanceof TerminalLine ? options.terminal : new TerminalLine(options.terminal);
  const showAfter = options.showAfterMs ?? DEFAULT_PROGRESS_SHOW_AFTER_MS;
  const tick = options.tickMs ?? DEFAULT_PROGRESS_TICK_MS;
  const active = new Set<{ label: string; startedAt: number; note: string }>();
  let timer: NodeJS.Timeout | undefined;
  let drawn = false;

  const draw = () => {
    if (!terminal) return;
    const now = Date.now();
    const shown = [...active].filter((t) => now - t.startedAt >= showAfter);
    if (shown.length === 0) return clear();
    const text = shown.map((t) => `${t.label} ${Math.round((now - t.startedAt) / 1000)} s${t.note ? ` ${t.note}` : ''}`).join(' | ');
    terminal.show(`… ${text.slice(0, Math.max(20, terminal.columns - 3))}`);
    drawn = true;
  };
  const clear = () => {
    if (terminal && drawn) terminal.clear();
    drawn = false;
  };

  return {
    start(label, fields = {}) {
      const entry = { label, startedAt: Date.now(), note: '' };
      active.add(entry);
      options.log.info(fields, `${label}: started`);
      if (terminal && !timer) {
        timer = setInterval(draw, tick);
        timer.unref();
      }
      let ended = false;
      return {
        note(text) {
          entry.note = text;
        },
        end(message, endFields = {}, level = 'info') {
          if (ended) return;
          ended = true;
          active.delete(entry);
          // What still runs stays on the line; the line goes when nothing does.
          if (active.size > 0) draw();
          else clear();
          if (active.size === 0 && timer) {
            clearInterval(timer);
            timer = undefined;
          }
          options.log[level]({ ...fields, ...endFields, seconds: Number(((Date.now() - entry.startedAt) / 1000).toFixed(3)) }, `${label}: ${message}`);
        },
      };
    },
  };
}

/** A Progress that only logs (tests, libraries). */
export function logOnlyProgress(log: Logger): Progress {
  return createProgress({ log, terminal: null });
}
