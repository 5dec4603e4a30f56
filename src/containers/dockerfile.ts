// The renter's `dockerfile` text → the per-allocation Dockerfile. Pure: the text only ever
// reaches the build (inside Docker), never a shell on the host.
//
// The rule (also in the README and src/containers/README.md):
// 1. Line ends are normalised (CRLF → LF). A line ending in `\` continues on the next one.
// 2. A (continued) line whose first word is a Dockerfile instruction written in capitals is an
//    instruction: ENV and WORKDIR are copied as they are; a RUN line's command becomes a step of
//    its own like a shell group (rule 3; the exec form `RUN ["a", "b"]` runs those words as they
//    are); every other instruction (FROM, USER, CMD, ENTRYPOINT, LABEL, COPY, ...) is refused,
//    since it could replace sshd, change the user or forge this miner's labels.
// 3. Every other line is a shell command. Consecutive shell lines (with the blank and `#` lines
//    between them) form one script, built as one RUN step that runs it with `/bin/sh -e`: the
//    lines run in order and the build fails at the first command that fails. The script is
//    carried base64-encoded, so quotes, `$`, heredocs and comments reach the shell unchanged
//    and nothing in it is read as Dockerfile syntax.
// 4. Every step's script runs with the rental's capabilities and no more (setpriv lowers the
//    bounding set before the shell starts): Docker's build API gives RUN steps its default set,
//    NET_RAW among them, and cannot be told otherwise.
// So `pip install x && apt-get install -y y` (the reference's `RUN <dockerfile>`) works as is,
// and `ENV A=1` / `WORKDIR /srv` / `RUN make` lines may be mixed in.
import { RENTAL_CAPABILITIES } from './capabilities.js';

/** Dockerfile instructions a renter may add on top of the base image. */
export const RENTER_INSTRUCTIONS = ['RUN', 'ENV', 'WORKDIR'] as const;

/** Every Dockerfile instruction: a capitalised first word among these is read as an instruction. */
export const DOCKERFILE_INSTRUCTIONS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;

/**
 * Largest shell script (UTF-8 bytes) of one group of shell lines. Its base64 is one shell
 * argument of the RUN step, and Linux caps one argument at 128 KiB [64 KiB].
 */
export const MAX_SHELL_SCRIPT_BYTES = 64 * 1024;

/** Characters of base64 per Dockerfile line, so no line comes near a parser's line limit. */
const BASE64_LINE = 4096;

/** Where the build writes a shell group's script before running it (inside the build only). */
const SCRIPT_PATH = '/tmp/.renter-dockerfile.sh';

export type RenterDockerfile = { ok: true; text: string } | { ok: false; error: string };

/**
 * What runs a step's script: setpriv (util-linux, in the base image) drops every capability but
 * the rental's from the bounding and inheritable sets, so neither the shell nor anything it
 * starts, set-uid programs included, can hold another. Needs CAP_SETPCAP, which Docker's default
 * set has; a build without it fails rather than runs with more.
 */
export function capabilityDrop(capabilities: readonly string[]): string {
  const keep = capabilities.map((c) => `+${c.toLowerCase()}`).join(',');
  return `setpriv --bounding-set=-all${keep ? `,${keep}` : ''} --inh-caps=-all --`;
}

/** The RUN step that runs `script` with `/bin/sh -e` under `runner`, the script carried as base64. */
export function shellStep(script: string, runner = capabilityDrop(RENTAL_CAPABILITIES)): string {
  const encoded = Buffer.from(script, 'utf8').toString('base64');
  const chunks: string[] = [];
  for (let i = 0; i < encoded.length; i += BASE64_LINE) chunks.push(`'${encoded.slice(i, i + BASE64_LINE)}'`);
  // printf %s joins its arguments without separators; base64's alphabet needs no quoting beyond ''.
  return [
    'RUN printf %s \\',
    ...chunks.map((c) => `  ${c} \\`),
    `  | base64 -d > ${SCRIPT_PATH} && ${runner} /bin/sh -e ${SCRIPT_PATH} && rm -f ${SCRIPT_PATH}`,
  ].join('\n');
}

/** A word as one shell argument: single-quoted, with `'` written as `'\\''`. */
const shellWord = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

/**
 * The command of a RUN line as shell: the shell form's text as written (sh reads its `\`
 * continuations as Docker's parser does), the exec form's words quoted and run as they are.
 */
function runCommand(line: string): string {
  const rest = line.replace(/^\s*RUN\b/, '').trim();
  if (rest.startsWith('[')) {
    try {
      const words: unknown = JSON.parse(rest);
      if (Array.isArray(words) && words.length > 0 && words.every((w) => typeof w === 'string')) return `exec ${words.map(shellWord).join(' ')}`;
    } catch { /* not JSON: Docker runs it as the shell form */ }
  }
  return rest;
}

/** The first word of a line when it is a capitalised Dockerfile instruction, else null. */
function instructionOf(line: string): string | null {
  const word = /^\s*([A-Z]+)(?=\s|$)/.exec(line)?.[1];
  return word !== undefined && (DOCKERFILE_INSTRUCTIONS as readonly string[]).includes(word) ? word : null;
}

/** The per-allocation Dockerfile: the base image plus the renter's commands (rule above), or why not. */
export function renterDockerfile(baseImage: string, commands: string): RenterDockerfile {
  if (commands.includes('\0')) return { ok: false, error: 'dockerfile: contains a NUL character' };
  const physical = commands.replace(/\r\n?/g, '\n').split('\n');
  const logical: string[] = [];
  let pending: string[] = [];
  for (const raw of physical) {
    pending.push(raw);
    if (raw.trimEnd().endsWith('\\')) continue;
    logical.push(pending.join('\n'));
    pending = [];
  }
  if (pending.length > 0) {
    return { ok: false, error: 'dockerfile: the last line ends with a continuation' };
  }

  const steps: string[] = [];
  let shell: string[] = [];
  const flush = (): string | null => {
    const meaningful = shell.some((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
    if (meaningful) {
      const script = `${shell.join('\n')}\n`;
      const bytes = Buffer.byteLength(script, 'utf8');
      if (bytes > MAX_SHELL_SCRIPT_BYTES) return `dockerfile: shell commands of ${bytes} bytes; at most ${MAX_SHELL_SCRIPT_BYTES} in one group`;
      steps.push(shellStep(script));
    }
    shell = [];
    return null;
  };
  for (const text of logical) {
    const instruction = instructionOf(text);
    if (instruction === null) {
      shell.push(text);
      continue;
    }
    if (!(RENTER_INSTRUCTIONS as readonly string[]).includes(instruction)) {
      // The wording of the earlier instruction-only rule, which clients may already match on.
      return { ok: false, error: `dockerfile: ${instruction} is not allowed (only ${RENTER_INSTRUCTIONS.join(', ')})` };
    }
    const tooBig = flush();
    if (tooBig) return { ok: false, error: tooBig };
    if (instruction === 'RUN') {
      // A step of its own, as Docker would make it, but run as the shell groups are (rule 4).
      shell.push(runCommand(text));
      const runTooBig = flush();
      if (runTooBig) return { ok: false, error: runTooBig };
      continue;
    }
    steps.push(text.trim());
  }
  const tooBig = flush();
  if (tooBig) return { ok: false, error: tooBig };
  return { ok: true, text: [`FROM ${baseImage}`, ...steps, ''].join('\n') };
}
