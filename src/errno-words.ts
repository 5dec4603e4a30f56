// File-system error codes in words (ENOENT → "no such file"), for messages a person reads.
// Pure: a code or an error in, words out; a code it does not know stays as it is.

const WORDS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  EEXIST: 'it already exists',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
  EBUSY: 'it is in use',
};

/** Why a file operation failed, in words: the error's code when it is known, else its message. */
export function fileErrorWords(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && WORDS[code]) return WORDS[code]!;
  return code ?? (err instanceof Error ? err.message : String(err));
}

/** `message` with every known code in it put in words (Node's "ENOENT: no such file or directory, open 'x'" included). */
export function explainErrnoCodes(message: string): string {
  return message
    .replace(/\b(E[A-Z]{3,}): [^,]*, \w+ '([^']*)'/g, (all, code: string, path: string) => (WORDS[code] ? `${path}: ${WORDS[code]}` : all))
    .replace(/\bE[A-Z]{3,}\b/g, (code) => WORDS[code] ?? code);
}
