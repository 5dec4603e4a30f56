// "SSH answers": a TCP connection to the published port receives the server's "SSH-2.0" banner.
// Docker's port proxy accepts connections before sshd listens, so a connect alone proves nothing.
import { connect } from 'node:net';

/** Where to probe a port published on `bind` (a wildcard bind is probed on loopback). */
export function probeAddress(bind: string): string {
  if (bind === '0.0.0.0' || bind === '') return '127.0.0.1';
  if (bind === '::') return '::1';
  return bind;
}

/** One attempt: true when the banner arrives within `timeoutMs`. */
export function sshAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = '';
    const finish = (ok: boolean) => { clearTimeout(timer); socket.destroy(); resolve(ok); };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.startsWith('SSH-')) finish(true);
      else if (received.length >= 4) finish(false);
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

export const SSH_RETRY_MS = 20;

/** Waits until SSH answers, or throws after `timeoutMs`. */
export async function waitForSsh(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (signal?.aborted) throw new Error('aborted while waiting for SSH');
    if (await sshAnswers(host, port, Math.min(1000, Math.max(50, end - Date.now())))) return;
    await new Promise((r) => setTimeout(r, SSH_RETRY_MS));
  }
  throw new Error(`SSH did not answer on ${host}:${port} within ${timeoutMs} ms`);
}
