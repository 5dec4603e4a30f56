// The mutual-TLS files of a remote engine (CA, client certificate, client key): read once, checked
// for shape (PEM, a certificate where one belongs, a key that belongs to the certificate) so a
// wrong file is named at start-up instead of failing later as a handshake error.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export class TlsFileError extends Error {
  override name = 'TlsFileError';
}

/** Largest TLS file read: a certificate chain is a few KiB. */
export const MAX_TLS_FILE_BYTES = 1024 * 1024;

const CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY = /-----BEGIN (RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (RSA |EC )?PRIVATE KEY-----/;

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  return code ?? (err instanceof Error ? err.message : String(err));
}

/** Why these PEM texts cannot be a CA bundle, client certificate and its key, or null. `label` names the field. */
export function tlsMaterialProblem(texts: { ca: string; cert: string; key: string }, label: string): { field: keyof TlsPaths; message: string } | null {
  const found = check(texts, label);
  return found ? { field: found[0], message: `${label}.${found[0]}: ${found[1]}` } : null;
}

function check(texts: { ca: string; cert: string; key: string }, label: string): [keyof TlsPaths, string] | null {
  const cas = texts.ca.match(CERT) ?? [];
  if (cas.length === 0) return ['ca', `not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`];
  for (const pem of cas) {
    try { new X509Certificate(pem); } catch { return ['ca', 'a certificate in it does not parse']; }
  }
  const certs = texts.cert.match(CERT) ?? [];
  if (certs.length === 0) return ['cert', `not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`];
  let cert: X509Certificate;
  try { cert = new X509Certificate(certs[0]!); } catch { return ['cert', 'the certificate does not parse']; }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(texts.key)) return ['key', 'the key is encrypted; the miner cannot ask for a passphrase, give it unencrypted (mode 0600)'];
  const keyPem = KEY.exec(texts.key)?.[0];
  if (!keyPem) return ['key', `not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)`];
  let key;
  try { key = createPrivateKey(keyPem); } catch { return ['key', 'the private key does not parse']; }
  if (!cert.checkPrivateKey(key)) return ['key', `does not belong to the certificate in ${label}.cert`];
  return null;
}

/** Reads and checks the three files; a TlsFileError names the field and the file. */
export function readTlsMaterial(paths: TlsPaths, label: string, read: (path: string) => Buffer = readFileSync): TlsMaterial {
  const material = {} as TlsMaterial;
  for (const field of ['ca', 'cert', 'key'] as const) {
    const path = paths[field];
    let data: Buffer;
    try {
      data = read(path);
    } catch (err) {
      throw new TlsFileError(`${label}.${field}: cannot read ${path}: ${errnoText(err)}`);
    }
    if (data.length > MAX_TLS_FILE_BYTES) throw new TlsFileError(`${label}.${field}: ${path} is larger than ${MAX_TLS_FILE_BYTES} bytes; not a PEM file`);
    material[field] = data;
  }
  const problem = tlsMaterialProblem({ ca: material.ca.toString('utf8'), cert: material.cert.toString('utf8'), key: material.key.toString('utf8') }, label);
  if (problem) throw new TlsFileError(`${problem.message} (${paths[problem.field]})`);
  return material;
}
