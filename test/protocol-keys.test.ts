// Checks of the keys a renter sends: the RSA key `info` is encrypted to, and the SSH key line
// that ends up in a container's authorized_keys.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import ssh2 from 'ssh2';
import { rsaPublicKeyProblem, sshPublicKeyProblem } from '../protocol/index.js';
import { sshKeyPair } from './helpers/ssh-keys.js';

const rsa = (bits: number, type: 'spki' | 'pkcs1' = 'spki') =>
  generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type, format: 'pem' }).toString();

test('rsaPublicKeyProblem: 2048- and 4096-bit SubjectPublicKeyInfo keys are accepted', () => {
  assert.is(rsaPublicKeyProblem(rsa(2048)), null);
  assert.is(rsaPublicKeyProblem(rsa(4096)), null);
  assert.is(rsaPublicKeyProblem(rsa(3072)), null);
  // CRLF line ends and surrounding whitespace are tolerated
  assert.is(rsaPublicKeyProblem(`\n${rsa(2048).replace(/\n/g, '\r\n')}  `), null);
});

test('rsaPublicKeyProblem: short, non-RSA, PKCS#1, private and malformed keys are refused', () => {
  assert.match(rsaPublicKeyProblem(rsa(512)) ?? '', /2048–4096 bits, not 512/);
  assert.match(rsaPublicKeyProblem(rsa(1024)) ?? '', /not 1024/);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.match(rsaPublicKeyProblem(ec) ?? '', /must be an RSA key, not ec/);
  const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.match(rsaPublicKeyProblem(ed) ?? '', /not ed25519/);
  assert.match(rsaPublicKeyProblem(rsa(2048, 'pkcs1')) ?? '', /SubjectPublicKeyInfo/); // "RSA PUBLIC KEY"
  const privatePem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.match(rsaPublicKeyProblem(privatePem) ?? '', /SubjectPublicKeyInfo/);
  const good = rsa(2048);
  const lines = good.split('\n');
  lines[1] = lines[1]!.replace(/^..../, 'AAAA'); // corrupt the DER header inside valid base64
  assert.match(rsaPublicKeyProblem(lines.join('\n')) ?? '', /not a valid PEM public key/);
  assert.match(rsaPublicKeyProblem(good.replace('-----END PUBLIC KEY-----', '')) ?? '', /PEM/);
  assert.match(rsaPublicKeyProblem(`${good}\n$(reboot)`) ?? '', /PEM/);
  assert.match(rsaPublicKeyProblem('') ?? '', /PEM/);
  assert.match(rsaPublicKeyProblem('x'.repeat(10_000)) ?? '', /too long/);
});

const ED25519 = sshKeyPair().public;
const RSA = ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }).public;
const ECDSA = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }).public;
const blobOf = (line: string) => line.split(' ')[1]!;

test('sshPublicKeyProblem: ed25519, rsa and ecdsa key lines are accepted, with or without a comment', () => {
  for (const line of [ED25519, RSA, ECDSA]) {
    const bare = line.split(' ').slice(0, 2).join(' ');
    assert.is(sshPublicKeyProblem(bare), null, bare.slice(0, 30));
    assert.is(sshPublicKeyProblem(`${bare} renter@laptop`), null);
    assert.is(sshPublicKeyProblem(`${bare} a comment with spaces`), null);
  }
});

test('sshPublicKeyProblem: a second line, an options prefix or a foreign type/blob is refused', () => {
  const bare = ED25519.split(' ').slice(0, 2).join(' ');
  const refused: [string, RegExp][] = [
    [`${bare} me\ncurl http://127.0.0.1/x | sh`, /one OpenSSH public key line/],
    [`${bare}\n${RSA}`, /one OpenSSH public key line/],
    [`${bare} me\r\nrm -rf /`, /one OpenSSH public key line/],
    [`command="/bin/sh -c id" ${bare}`, /one OpenSSH public key line/],
    [`no-pty,from="*" ${bare}`, /one OpenSSH public key line/],
    [`environment="LD_PRELOAD=/x" ${bare}`, /one OpenSSH public key line/],
    [`ssh-rsa ${blobOf(ED25519)}`, /does not match|does not parse/], // declared rsa, blob is ed25519
    [`ssh-ed25519 ${blobOf(RSA)}`, /does not match|does not parse/],
    [`ecdsa-sha2-nistp384 ${blobOf(ECDSA)}`, /does not match|does not parse/],
    [`ssh-dss ${blobOf(ED25519)}`, /key type ssh-dss is not supported/],
    ['ssh-ed25519 AAAA', /does not parse|does not match/],
    ['ssh-ed25519', /one OpenSSH public key line/],
    [`${bare} comment\u0000`, /one OpenSSH public key line/],
    [` ${bare}`, /one OpenSSH public key line/],
    ['', /one OpenSSH public key line/],
    [`${bare} ${'x'.repeat(20_000)}`, /too long/],
  ];
  for (const [line, reason] of refused) {
    const problem = sshPublicKeyProblem(line);
    assert.ok(problem !== null, `accepted: ${JSON.stringify(line.slice(0, 60))}`);
    assert.match(problem!, reason, JSON.stringify(line.slice(0, 60)));
  }
});

test.run();
