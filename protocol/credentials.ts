// Allocate's `info`: base64( RSA-OAEP( renter public key, JSON credentials ) ) with SHA-256
// as both the OAEP hash and the MGF1 hash and no label, as Python's cryptography does with
// padding.OAEP(MGF1(SHA256()), SHA256(), None). node-forge keeps this identical everywhere.
import forge from 'node-forge';
import type { AllocateCredentials } from './synapses/allocate.js';

export function encryptAllocationInfo(credentials: AllocateCredentials, publicKeyPem: string): string {
  const key = forge.pki.publicKeyFromPem(publicKeyPem);
  const plaintext = forge.util.encodeUtf8(JSON.stringify(credentials));
  const encrypted = key.encrypt(plaintext, 'RSA-OAEP', { md: forge.md.sha256.create(), mgf1: { md: forge.md.sha256.create() } });
  return forge.util.encode64(encrypted);
}
