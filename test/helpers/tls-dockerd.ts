// A private Docker daemon (see docker-daemon.ts: its own data root, exec root, containerd
// namespace and bridge, no iptables) that also listens on tcp://127.0.0.1:<free port> with
// mutual TLS (--tlsverify), using a CA, server and client certificate made with openssl.
// destroy() stops it and removes its folder, certificates included.
import { join } from 'node:path';
import { freePort } from './docker.js';
import { startPrivateDockerd, type PrivateDockerd } from './docker-daemon.js';
import { makeTlsSet, type TlsSet } from './tls-certs.js';

export interface TlsDockerd extends PrivateDockerd {
  /** tcp://127.0.0.1:PORT, for a hosts file's `engine`. */
  engine: string;
  port: number;
  /** The CA the daemon trusts, its server certificate and a client certificate it accepts. */
  tls: TlsSet;
}

export async function startTlsDockerd(dir: string, id: string): Promise<TlsDockerd> {
  const tls = makeTlsSet(join(dir, 'certs'), id);
  const port = await freePort();
  const engine = `tcp://127.0.0.1:${port}`;
  const daemon = await startPrivateDockerd(dir, id, [
    '-H', engine, '--tlsverify', '--tlscacert', tls.ca, '--tlscert', tls.serverCert, '--tlskey', tls.serverKey,
  ]);
  return { ...daemon, engine, port, tls };
}
