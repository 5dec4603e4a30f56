// Numbers as people read them: sizes in binary units (GiB, as `free -h`), durations in the
// two largest units. Pure; every text output goes through these, JSON output keeps raw numbers.

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1073741824 → "1 GiB", 1610612736 → "1.5 GiB", 512 → "512 B". */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return String(bytes);
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 || value >= 100 ? Math.round(value).toString() : value.toFixed(value >= 10 ? 1 : 2).replace(/\.?0+$/, '');
  return `${text} ${SIZE_UNITS[unit]}`;
}

/** 90061 → "1 d 1 h", 3720 → "1 h 2 min", 42 → "42 s". */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const s = Math.max(0, Math.round(seconds));
  const parts: [number, string][] = [[Math.floor(s / 86400), 'd'], [Math.floor((s % 86400) / 3600), 'h'], [Math.floor((s % 3600) / 60), 'min'], [s % 60, 's']];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0 s';
  return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, u]) => `${n} ${u}`).join(' ');
}

/** Rewrites "107374182400 bytes requested, 8589934592 available" in a message (e.g. a miner's refusal) as "100 GiB requested, 8 GiB available". */
export function humanizeByteCounts(text: string): string {
  return text
    .replace(/\b(\d{4,}) bytes\b/g, (_all, digits: string) => humanBytes(Number(digits)))
    .replace(/\b(\d{4,}) (available|free)\b/g, (_all, digits: string, word: string) => `${humanBytes(Number(digits))} ${word}`);
}
