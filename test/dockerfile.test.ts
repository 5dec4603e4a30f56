// The renter's `dockerfile` translation as a pure function: shell commands become one base64
// RUN step run by `/bin/sh -e` with the rental's capabilities only, a RUN line's command a step
// of its own run the same way, ENV/WORKDIR lines kept, other instructions refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RENTAL_CAPABILITIES } from '../src/containers/capabilities.js';
import { capabilityDrop, MAX_SHELL_SCRIPT_BYTES, renterDockerfile, shellStep } from '../src/containers/dockerfile.js';

const t = suite('renter dockerfile');

/** The scripts carried by the shell steps of a Dockerfile, decoded. */
function scripts(text: string): string[] {
  const found: string[] = [];
  const re = /RUN printf %s \\\n((?:  '[A-Za-z0-9+/=]*' \\\n)+)  \| base64 -d/g;
  for (const m of text.matchAll(re)) {
    const encoded = [...m[1]!.matchAll(/'([^']*)'/g)].map((x) => x[1]).join('');
    found.push(Buffer.from(encoded, 'base64').toString('utf8'));
  }
  return found;
}

const ok = (commands: string): string => {
  const r = renterDockerfile('ssh-image-base:latest', commands);
  if (!r.ok) throw new Error(r.error);
  return r.text;
};

t('plain shell commands (the reference form): one RUN step that runs them with sh -e', () => {
  const text = ok('echo renter-was-here > /root/marker.txt');
  assert.ok(text.startsWith('FROM ssh-image-base:latest\nRUN printf %s \\\n'));
  assert.equal(scripts(text), ['echo renter-was-here > /root/marker.txt\n']);
  assert.match(text, /\| base64 -d > \/tmp\/\.renter-dockerfile\.sh && setpriv --bounding-set=-all,[a-z_,+]+ --inh-caps=-all -- \/bin\/sh -e \/tmp\/\.renter-dockerfile\.sh && rm -f /);
  // Exactly FROM and one step.
  assert.is(text.split('\n').filter((l) => /^[A-Z]+ /.test(l)).length, 2);
});

t('multi-line shell: one script, kept byte for byte (quotes, $, comments, continuations, heredocs)', () => {
  const script = [
    '# set up',
    'pip install x && apt-get install -y y',
    'cd /srv',
    "echo '$HOME' \"it's\" > a.txt",
    'cat > b.txt <<EOF',
    'line $X',
    'EOF',
    'apt-get update && \\',
    '  apt-get install -y z',
  ].join('\r\n');
  const text = ok(script);
  assert.equal(scripts(text), [`${script.replace(/\r\n/g, '\n')}\n`]);
  // Nothing of the renter's text is Dockerfile syntax: only FROM and the RUN step are lines of their own.
  assert.not.match(text, /\$HOME|EOF|apt-get/);
});

t('extended form: ENV and WORKDIR kept as written, a RUN line a step of its own, mixed with shell groups in order', () => {
  const text = ok('ENV A=1\nWORKDIR /srv\necho "$A" > a\necho b > b\nRUN touch c && \\\n    touch d\n\n# trailing comment\n');
  const lines = text.split('\n');
  assert.is(lines[0], 'FROM ssh-image-base:latest');
  assert.is(lines[1], 'ENV A=1');
  assert.is(lines[2], 'WORKDIR /srv');
  assert.ok(text.indexOf('WORKDIR /srv') < text.indexOf('printf'));
  // The RUN line's command (its continuation read by sh as Docker's parser reads it) runs as a
  // script of its own after the shell group; the trailing comment alone makes no step.
  assert.equal(scripts(text), ['echo "$A" > a\necho b > b\n', 'touch c && \\\n    touch d\n']);
  assert.not.match(text, /^RUN touch/m);
});

t('a RUN line is never run with Docker\'s default capabilities: every step drops to the rental\'s', () => {
  const text = ok('RUN pip install numpy\n\n# comment\nENV A=1\nWORKDIR /root');
  assert.equal(scripts(text), ['pip install numpy\n']);
  assert.ok(text.endsWith('ENV A=1\nWORKDIR /root\n'));
  const runners = [...text.matchAll(/&& (setpriv [^\n]*?) \/bin\/sh -e /g)].map((m) => m[1]);
  assert.equal(runners, [capabilityDrop(RENTAL_CAPABILITIES)]);
  assert.is(capabilityDrop(RENTAL_CAPABILITIES), 'setpriv --bounding-set=-all,+chown,+dac_override,+fowner,+setuid,+setgid,+sys_chroot,+audit_write,+net_bind_service,+kill --inh-caps=-all --');
  assert.not.match(capabilityDrop(RENTAL_CAPABILITIES), /net_raw|mknod|setpcap|sys_admin/);
});

t('the exec form of RUN runs its words as they are; a RUN that is not JSON is the shell form', () => {
  assert.equal(scripts(ok('RUN ["python3", "-c", "print(\'it\'s\')"]')), [`exec 'python3' '-c' 'print('\\''it'\\''s'\\'')'\n`]);
  assert.equal(scripts(ok('RUN [ -d /srv ] || mkdir /srv')), ['[ -d /srv ] || mkdir /srv\n']);
});

t('instructions that could replace sshd, change the user or forge labels are refused, with the rule\'s wording', () => {
  for (const [bad, word] of [
    ['FROM ubuntu', 'FROM'], ['echo a\nUSER nobody', 'USER'], ['CMD ["sleep","1"]', 'CMD'], ['ENTRYPOINT x', 'ENTRYPOINT'],
    ['LABEL compute-miner.owner=x', 'LABEL'], ['echo a \\\n  b\nCOPY / /x', 'COPY'], ['  SHELL ["/bin/bash"]', 'SHELL'],
    ['ONBUILD RUN x', 'ONBUILD'], ['HEALTHCHECK NONE', 'HEALTHCHECK'], ['STOPSIGNAL 9', 'STOPSIGNAL'],
  ] as const) {
    const r = renterDockerfile('b', bad);
    assert.is(r.ok, false, bad);
    if (!r.ok) assert.is(r.error, `dockerfile: ${word} is not allowed (only RUN, ENV, WORKDIR)`);
  }
});

t('lower-case words are shell commands (env, run, user are programs or unknown words, not instructions)', () => {
  const text = ok('env FOO=1 true\nuser_setup=1\nfrom=2');
  assert.equal(scripts(text), ['env FOO=1 true\nuser_setup=1\nfrom=2\n']);
});

t('bad input: a dangling continuation, a NUL, an oversized script; empty text has no step', () => {
  for (const [bad, why] of [['echo a \\', 'continuation'], ['RUN a \\', 'continuation'], ['echo \0', 'NUL']] as const) {
    const r = renterDockerfile('b', bad);
    assert.is(r.ok, false);
    if (!r.ok) assert.match(r.error, why);
  }
  const big = renterDockerfile('b', `echo ${'x'.repeat(MAX_SHELL_SCRIPT_BYTES)}`);
  assert.is(big.ok, false);
  if (!big.ok) assert.match(big.error, `at most ${MAX_SHELL_SCRIPT_BYTES}`);
  assert.is(ok('\n# only a comment\n\n'), 'FROM ssh-image-base:latest\n');
});

t('shellStep: base64 split into short quoted chunks, no line over 4 KiB', () => {
  const script = 'é'.repeat(20_000);
  const step = shellStep(script);
  for (const line of step.split('\n')) assert.ok(line.length <= 4096 + 8, `line of ${line.length}`);
  assert.equal(scripts(`${step}\n`), [script]);
});

t.run();
