// The SSH host public key lines of the Allocate reply's `host_keys`: which key types a rental
// may offer and how one OpenSSH line ("type base64 [comment]") is read and normalized. Pure:
// the miner writes these lines and every client reads them with the same rules.

/** Host key types a rental may offer: what OpenSSH makes with ssh-keygen -t ed25519|ecdsa|rsa. */
export const HOST_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'] as const;

const ED25519_KEY_BYTES = 32;
const MIN_RSA_MODULUS_BITS = 1024;

/** The SSH wire strings of a public key blob (RFC 4253 §6.6), or null when it does not split into them. */
function wireStrings(blob: Buffer): Buffer[] | null {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return null;
    const length = blob.readUInt32BE(at);
    at += 4;
    if (at + length > blob.length) return null;
    parts.push(blob.subarray(at, at + length));
    at += length;
  }
  return parts;
}

function blobProblem(type: string, blob: Buffer): string | null {
  const parts = wireStrings(blob);
  if (!parts || parts.length === 0) return 'its key data is not an SSH public key';
  if (parts[0]!.toString('latin1') !== type) return `its key data is of type ${JSON.stringify(parts[0]!.toString('latin1').slice(0, 40))}, not ${type}`;
  if (type === 'ssh-ed25519') return parts.length === 2 && parts[1]!.length === ED25519_KEY_BYTES ? null : 'not a 32-byte ed25519 key';
  if (type.startsWith('ecdsa-sha2-')) {
    const curve = type.slice('ecdsa-sha2-'.length);
    if (parts.length !== 3 || parts[1]!.toString('latin1') !== curve) return `not an ${curve} point`;
    return parts[2]!.length > 1 && parts[2]![0] === 0x04 ? null : 'not an uncompressed curve point';
  }
  // ssh-rsa: e, n as mpints
  if (parts.length !== 3) return 'not an RSA key (e, n)';
  const n = parts[2]!;
  const bits = (n.length - (n[0] === 0 ? 1 : 0)) * 8;
  return bits >= MIN_RSA_MODULUS_BITS ? null : `RSA modulus of ${bits} bits, fewer than ${MIN_RSA_MODULUS_BITS}`;
}

/**
 * One OpenSSH public key line as `type base64` with the comment stripped; or the reason it is
 * not a host key line (another type, base64 that does not decode, key data of another type).
 */
export function parseHostKeyLine(text: string): { ok: true; line: string; type: string; blob: Buffer } | { ok: false; error: string } {
  const fields = text.trim().split(/\s+/);
  const [type, data] = fields;
  if (!type || !data) return { ok: false, error: 'not an OpenSSH public key line ("type base64 [comment]")' };
  if (!(HOST_KEY_TYPES as readonly string[]).includes(type)) return { ok: false, error: `key type ${JSON.stringify(type.slice(0, 40))} is not one of ${HOST_KEY_TYPES.join(', ')}` };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data) || data.length % 4 !== 0) return { ok: false, error: 'its key data is not base64' };
  const blob = Buffer.from(data, 'base64');
  const problem = blobProblem(type, blob);
  if (problem) return { ok: false, error: `${type} key: ${problem}` };
  return { ok: true, line: `${type} ${blob.toString('base64')}`, type, blob };
}

/** The normalized lines of host key text (one key a line; blank lines skipped); throws the first bad line's reason. */
export function hostKeyLines(text: string): string[] {
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const parsed = parseHostKeyLine(raw);
    if (!parsed.ok) throw new Error(parsed.error);
    if (!lines.includes(parsed.line)) lines.push(parsed.line);
  }
  return lines;
}
