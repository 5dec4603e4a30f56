// Polling for a state that other processes (Docker, an axon, a scheduler) reach on their own.

/**
 * Calls `probe` until it yields a value other than undefined or false, and returns that value;
 * throws, naming `what`, when `timeoutMs` passes first.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 45_000, intervalMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
