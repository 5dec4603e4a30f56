// A certificate authority with one server certificate (for 127.0.0.1) and one client
// certificate, made with openssl in a folder the caller removes: what an operator makes to
// reach a remote Docker engine over mutual TLS, as Docker documents it.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsSet {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function sign(dir: string, set: { ca: string; caKey: string }, name: string, subject: string, extensions: string): { cert: string; key: string } {
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}-cert.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['req', ...KEY, '-keyout', key, '-out', csr, '-subj', subject], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', set.ca, '-CAkey', set.caKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '2', '-out', cert, '-extfile', ext], dir);
  return { cert, key };
}

/** A CA, a server certificate for IP 127.0.0.1 and a client certificate, all under `dir`. */
export function makeTlsSet(dir: string, name = 'test'): TlsSet {
  mkdirSync(dir, { recursive: true });
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  openssl(['req', '-x509', ...KEY, '-keyout', caKey, '-out', ca, '-days', '2', '-subj', `/CN=${name} CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const server = sign(dir, { ca, caKey }, 'server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const client = sign(dir, { ca, caKey }, 'client', `/CN=${name} client`, 'extendedKeyUsage=clientAuth\n');
  return { dir, ca, caKey, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key };
}
