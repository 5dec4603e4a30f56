// Questions to a Docker daemon over its unix socket, each with a bound and never throwing:
// does it answer (/_ping, cheap enough to ask every few seconds), what is it (/info: storage
// driver, live restore, user namespaces, running containers), and what runs or is kept on it
// besides standbys.
import { request } from 'node:http';
import { standbyName } from '../containers/names.js';

/** Every standby's name ends so, whatever the miner's name prefix. */
const STANDBY_SUFFIX = standbyName('');

export interface DaemonAnswer {
  ok: boolean;
  driver?: string;
  /** Whether containers outlive the daemon (false: a daemon started by a release before live restore). */
  liveRestore?: boolean;
  containersRunning?: number;
  /** Whether it remaps users (false: a daemon started by a release before --userns-remap). */
  remapped?: boolean;
}

/** Asks the daemon on `socket` for /info, within `timeoutMs`; never throws. */
export function pingSocket(socket: string, timeoutMs = 2000): Promise<DaemonAnswer> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/info', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; });
      res.on('end', () => {
        try {
          const info = JSON.parse(body) as { Driver?: string; LiveRestoreEnabled?: boolean; ContainersRunning?: number; SecurityOptions?: string[] };
          resolve({
            ok: res.statusCode === 200, driver: info.Driver, liveRestore: info.LiveRestoreEnabled === true, containersRunning: info.ContainersRunning ?? 0,
            remapped: (info.SecurityOptions ?? []).includes('name=userns'),
          });
        } catch { resolve({ ok: false }); }
      });
    });
    req.on('error', () => resolve({ ok: false }));
    req.on('timeout', () => { req.destroy(); resolve({ ok: false }); });
    req.end();
  });
}

/**
 * Running containers on the daemon other than miners' standbys (a standby is only a head start:
 * it is made again), or null when the daemon does not say. `all`: stopped ones count too.
 */
export function runningBesidesStandbys(socket: string, timeoutMs = 5000, all = false): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: `/containers/json${all ? '?all=1' : ''}`, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; });
      res.on('end', () => {
        try {
          const list = JSON.parse(body) as { Names?: string[] }[];
          resolve(res.statusCode === 200 ? list.filter((c) => !(c.Names ?? []).some((n) => n.endsWith(STANDBY_SUFFIX))).length : null);
        } catch { resolve(null); }
      });
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => { req.destroy(); resolve(null); });
    req.end();
  });
}

/** Whether the daemon answers /_ping within `timeoutMs` (cheap: the keeper asks every few seconds). */
export function pingDaemon(socket: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}
