// The one line at the bottom of a terminal that shows long work as it runs. Log lines written
// to the same terminal go above it (the line is cleared, the log line written, the line drawn
// again), so a counting progress line and the log never mix on one line.
export class TerminalLine {
  private text = '';

  constructor(readonly stream: NodeJS.WriteStream) {}

  get columns(): number {
    return this.stream.columns ?? 80;
  }

  show(text: string): void {
    this.text = text;
    this.stream.write(`\r\x1b[2K${text}`);
  }

  clear(): void {
    if (this.text) this.stream.write('\r\x1b[2K');
    this.text = '';
  }

  /** Writes `chunk` (whole lines) above the line. */
  writeAbove(chunk: string | Uint8Array): void {
    if (!this.text) {
      this.stream.write(chunk);
      return;
    }
    this.stream.write('\r\x1b[2K');
    this.stream.write(chunk);
    this.stream.write(this.text);
  }
}

let stderrLine: TerminalLine | null | undefined;

/** The line on standard error when it is a terminal, shared by the log and progress; null otherwise. */
export function stderrTerminalLine(): TerminalLine | null {
  if (stderrLine === undefined) stderrLine = process.stderr.isTTY ? new TerminalLine(process.stderr) : null;
  return stderrLine;
}
