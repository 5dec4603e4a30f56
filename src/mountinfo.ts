// /proc/<pid>/mountinfo as data: one entry per mount, in the kernel's order (a later mount on the
// same point hides an earlier one). Pure; the pool, cgroup and IO-device readers share it.

export interface MountEntry {
  /** The mounted sub-tree of its file system ("/" for the whole). */
  root: string;
  mountPoint: string;
  type: string;
  source: string;
  superOptions: string;
}

/** The kernel writes a space in a path as `\040`. */
const unescape = (field: string) => field.replace(/\\040/g, ' ');

/** Every well-formed line of a mountinfo text; others are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    // Optional fields come before " - ", so the fixed ones are counted from each end.
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [type = '', source = '', superOptions = ''] = right.split(' ');
    entries.push({ root: unescape(fields[3] ?? '/'), mountPoint: unescape(fields[4] ?? ''), type, source: unescape(source), superOptions });
  }
  return entries;
}

/** The mount visible at exactly `path` (the last one there), or undefined. */
export function mountAt(text: string, path: string): MountEntry | undefined {
  return parseMountinfo(text).filter((m) => m.mountPoint === path).at(-1);
}
