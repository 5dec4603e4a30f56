// Who holds a rental: the digest of the holder's public key (DER), compared in constant time, and
// the fingerprint operators see. The same key in differently wrapped PEM text is the same holder.
import { createHash, createPublicKey, timingSafeEqual } from 'node:crypto';

/** SHA-256 of the key's DER form; of the text itself when it does not parse (it then matches only itself). */
export function holderDigest(pem: string): Buffer {
  let material: Buffer;
  try {
    material = createPublicKey({ key: pem, format: 'pem' }).export({ type: 'spki', format: 'der' });
  } catch {
    material = Buffer.from(pem, 'utf8');
  }
  return createHash('sha256').update(material).digest();
}

/** The digest of a stored holder key (base64 of the PEM), parsed once per key text. */
const stored = new Map<string, Buffer>();
export function storedHolderDigest(holderKeyBase64: string): Buffer {
  let digest = stored.get(holderKeyBase64);
  if (!digest) {
    digest = holderDigest(Buffer.from(holderKeyBase64, 'base64').toString('utf8'));
    if (stored.size > 10_000) stored.clear();
    stored.set(holderKeyBase64, digest);
  }
  return digest;
}

export function sameHolder(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `SHA256:<base64>` as OpenSSH prints fingerprints; 'unreadable' for a key that does not parse. */
export function holderFingerprint(holderKeyBase64: string): string {
  try {
    const pem = Buffer.from(holderKeyBase64, 'base64').toString('utf8');
    const der = createPublicKey({ key: pem, format: 'pem' }).export({ type: 'spki', format: 'der' });
    return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
  } catch {
    return 'unreadable';
  }
}
