// Sizes as people type them on a command line: `512m`, `4g`, `1.5g`, `100g`, or plain bytes.
// Base 1024 (what `free -g` and Docker's `--memory 4g` mean); a pure parser, tested as such.
import { MAX_SIZE_BYTES } from '../../protocol/index.js';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

const SIZE = /^(\d+(?:\.\d+)?|\.\d+)\s*([kmgt]?)(?:i?b)?$/i;

/** Bytes of `text`; throws an Error whose message says what is wrong and what is accepted. */
export function parseSize(text: string): number {
  const trimmed = text.trim();
  const match = SIZE.exec(trimmed);
  const hint = 'e.g. 512m, 4g, 1.5g or a number of bytes';
  if (!match) throw new Error(`${JSON.stringify(text)} is not a size (${hint})`);
  const unit = UNITS[match[2]!.toLowerCase()]!;
  if (unit === 1 && match[1]!.includes('.')) throw new Error(`${JSON.stringify(text)}: a byte count must be a whole number`);
  // Fractions of a unit round down to whole bytes.
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes > MAX_SIZE_BYTES) throw new Error(`${JSON.stringify(text)} is larger than any host (at most 1024t)`);
  return bytes;
}

/** `1073741824` → `1g`, for messages; exact units only, else bytes. */
export function formatSize(bytes: number): string {
  for (const suffix of ['t', 'g', 'm', 'k'] as const) {
    const unit = UNITS[suffix]!;
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}
