// /etc/subuid and /etc/subgid as data: which ranges of ids each user may map into a user
// namespace. The rental daemon's user gets one range of its own (the same numbers in both files),
// so a rental's root is an unprivileged id on the host that no other user or range holds. Pure.

export interface SubordinateRange {
  owner: string;
  start: number;
  count: number;
}

/** As shadow-utils' login.defs defaults: the first id handed out, and one range's size (uid 0-65535 inside). */
export const SUBORDINATE_MIN = 100_000;
export const SUBORDINATE_MAX = 600_100_000;
export const SUBORDINATE_COUNT = 65_536;

/** One line of /etc/subuid or /etc/subgid. */
export function subordinateEntry(range: SubordinateRange): string {
  return `${range.owner}:${range.start}:${range.count}`;
}

/** The ranges a subuid/subgid file holds; comments, blank and malformed lines are skipped. */
export function parseSubordinateFile(text: string): SubordinateRange[] {
  const ranges: SubordinateRange[] = [];
  for (const line of text.split('\n')) {
    const m = /^([^:#\s][^:]*):(\d+):(\d+)$/.exec(line.trim());
    if (m) ranges.push({ owner: m[1]!, start: Number(m[2]), count: Number(m[3]) });
  }
  return ranges;
}

export const rangesOverlap = (a: Omit<SubordinateRange, 'owner'>, b: Omit<SubordinateRange, 'owner'>): boolean =>
  a.start < b.start + b.count && b.start < a.start + a.count;

/** The ranges of other owners that `range` overlaps. */
export function overlapsWith(range: SubordinateRange, ranges: readonly SubordinateRange[]): SubordinateRange[] {
  return ranges.filter((r) => r.owner !== range.owner && rangesOverlap(range, r));
}

/** The lowest free range of `count` ids from SUBORDINATE_MIN, aligned to `count`, clear of every range given. */
export function freeRange(owner: string, taken: readonly SubordinateRange[], count = SUBORDINATE_COUNT): SubordinateRange | null {
  for (let start = SUBORDINATE_MIN; start + count - 1 <= SUBORDINATE_MAX; start += count) {
    const candidate = { owner, start, count };
    const hit = taken.filter((r) => rangesOverlap(candidate, r));
    if (hit.length === 0) return candidate;
    // Skip past the highest range in the way, staying aligned.
    const end = Math.max(...hit.map((r) => r.start + r.count));
    start = Math.ceil((end - SUBORDINATE_MIN) / count) * count + SUBORDINATE_MIN - count;
  }
  return null;
}

export type RangePlan =
  | { action: 'keep'; range: SubordinateRange }
  | { action: 'add'; range: SubordinateRange }
  | { action: 'refuse'; why: string };

/**
 * What to do for `owner` given both files: keep its range when it has the same full-size one in
 * both and no one else overlaps it; add a fresh one (same numbers in both) when it has none;
 * refuse anything else (an operator's entries are never rewritten).
 */
export function planRange(owner: string, subuid: readonly SubordinateRange[], subgid: readonly SubordinateRange[], count = SUBORDINATE_COUNT): RangePlan {
  const uids = subuid.filter((r) => r.owner === owner);
  const gids = subgid.filter((r) => r.owner === owner);
  if (uids.length === 0 && gids.length === 0) {
    const range = freeRange(owner, [...subuid, ...subgid], count);
    return range ? { action: 'add', range } : { action: 'refuse', why: `no free range of ${count} ids between ${SUBORDINATE_MIN} and ${SUBORDINATE_MAX}` };
  }
  const [uid] = uids;
  const [gid] = gids;
  if (uids.length !== 1 || gids.length !== 1 || uid!.start !== gid!.start || uid!.count !== gid!.count) {
    return { action: 'refuse', why: `${owner} needs exactly one range, the same in /etc/subuid and /etc/subgid` };
  }
  if (uid!.count < count) return { action: 'refuse', why: `${owner}'s range ${subordinateEntry(uid!)} holds fewer than ${count} ids` };
  const clash = [...overlapsWith(uid!, subuid), ...overlapsWith(gid!, subgid)];
  if (clash.length) return { action: 'refuse', why: `${owner}'s range ${subordinateEntry(uid!)} overlaps ${clash.map(subordinateEntry).join(', ')}` };
  return { action: 'keep', range: uid! };
}
