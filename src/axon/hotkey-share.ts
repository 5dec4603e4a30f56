// Requests of each hotkey waiting or running: a hotkey that floods fills its own share and
// not the queue that every validator shares. Only hotkeys with requests pending have an
// entry, so the table is bounded by the requests the queue holds.
export class HotkeyShares {
  private readonly pending = new Map<string, number>();

  constructor(private readonly maxPerHotkey: number) {}

  /** Takes one place for `hotkey`; false when its share is full. */
  take(hotkey: string): boolean {
    const count = this.pending.get(hotkey) ?? 0;
    if (count >= this.maxPerHotkey) return false;
    this.pending.set(hotkey, count + 1);
    return true;
  }

  /** Gives back a place taken by `take`. */
  release(hotkey: string): void {
    const count = this.pending.get(hotkey) ?? 0;
    if (count <= 1) this.pending.delete(hotkey);
    else this.pending.set(hotkey, count - 1);
  }

  of(hotkey: string): number {
    return this.pending.get(hotkey) ?? 0;
  }
}
