// OpenSSH ed25519 key pairs for tests. ssh2's generator writes the public key as an SSH
// mpint, so about one pair in 256 (a key starting with a zero byte) comes out 31 bytes long
// and its own parser, like sshd, rejects it; such a pair is drawn again.
import ssh2 from 'ssh2';

/** A valid ed25519 OpenSSH pair: `public` is an authorized_keys line, `private` the OpenSSH PEM. */
export function sshKeyPair(comment = 'renter'): { public: string; private: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) {
      return { public: pair.public.trim(), private: pair.private };
    }
  }
}
