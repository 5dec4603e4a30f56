// Logs in to a rented container over SSH with its password and runs one command: the proof
// that the credentials a miner returned actually open the box.
import ssh2 from 'ssh2';
import { hostPin } from './host-pin.js';

export interface SshLogin {
  host: string;
  port: number;
  username: string;
  /** The password the miner returned; or, for a key exchanged in, the matching private key. */
  password?: string;
  privateKey?: string;
  /** The host keys to accept (OpenSSH lines, from the signed Allocate reply); absent: any host key. */
  hostKeys?: readonly string[];
  /** Run after login; its stdout is returned. */
  command: string;
  /** Whole login + command budget, ms. */
  timeoutMs: number;
}

/** Resolves with the command's stdout; rejects when login fails, the command fails or time runs out. */
export function sshRun(login: SshLogin): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let out = '';
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      if (err) reject(err);
      else resolve(out);
    };
    const timer = setTimeout(() => finish(new Error(`no SSH login within ${login.timeoutMs} ms`)), login.timeoutMs);
    client.on('ready', () => {
      client.exec(login.command, (err, stream) => {
        if (err) return finish(err);
        stream.on('data', (d: Buffer) => {
          if (out.length < 64 * 1024) out += d.toString('utf8');
        });
        stream.stderr.on('data', () => undefined);
        stream.on('close', (code: number | null) => {
          finish(code === 0 || code === null ? null : new Error(`${JSON.stringify(login.command)} exited with ${code}`));
        });
      });
    });
    let pin: ReturnType<typeof hostPin> | undefined;
    try {
      pin = login.hostKeys ? hostPin(login.hostKeys) : undefined;
    } catch (err) {
      return finish(new Error(`SSH ${login.host}:${login.port}: cannot pin the host: ${(err as Error).message}`));
    }
    // A refused host key: say which key was met, not ssh2's bare "verification failed".
    client.on('error', (err) => finish(pin?.mismatch() ?? new Error(`SSH ${login.host}:${login.port}: ${err.message}`)));
    client.on('close', () => finish(pin?.mismatch() ?? new Error(`SSH ${login.host}:${login.port}: connection closed before the command finished`)));
    client.connect({
      host: login.host,
      port: login.port,
      username: login.username,
      password: login.password,
      privateKey: login.privateKey,
      readyTimeout: login.timeoutMs,
      // Only what was given: never offer an agent's or the user's other keys to a miner's box.
      tryKeyboard: false,
      agent: undefined,
      ...(pin ? { hostVerifier: pin.verify } : {}),
    });
  });
}
