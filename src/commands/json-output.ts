// The one JSON document a command prints with --json. Durations in milliseconds (every field
// named `ms`, `…Ms` or `…_ms`) are whole numbers, whatever command measured them:
// `latencyMs: 6387`, never `6387.257280999999` beside a whole `total_ms`.

const MILLISECONDS = /(^ms$|Ms$|_ms$)/;

/** `doc` as JSON text (two-space indent, one trailing newline), milliseconds rounded. */
export function jsonDocument(doc: unknown): string {
  const text = JSON.stringify(doc, (key, value: unknown) => (typeof value === 'number' && MILLISECONDS.test(key) ? Math.round(value) : value), 2);
  return `${text}\n`;
}

/** Writes `doc` as the one JSON document on standard output. */
export function printJson(doc: unknown): void {
  process.stdout.write(jsonDocument(doc));
}
