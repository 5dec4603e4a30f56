// The validator's dendrite against a real axon and against hostile fake axons.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer } from 'ws';
import { constants, publicEncrypt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  decode,
  encode,
  encryptAllocationInfo,
  generateHotkey,
  nextNonce,
  replySigningMessage,
  replyEnvelopeSchema,
  sign,
  type AllocateCredentials,
  type Hotkey,
} from '../protocol/index.js';
import { decryptAllocationInfo, generateRenterKeyPair } from '../src/validator/credentials.js';
import { isReplyEnvelope } from '../protocol/index.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { echoPlugin, startTestAxon, type TestAxon } from './helpers/axon.js';
import { python } from './helpers/python.js';

const real = suite('dendrite against the axon');
let t: TestAxon;
real.before(async () => {
  t = await startTestAxon({ plugins: [echoPlugin('Specs', { concurrency: 64 })], limits: { rateBurst: 1000 } });
});
real.after(() => t.close());

real('replies that come back out of order are matched to their calls by id', async () => {
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: t.url, axonHotkey: t.hotkey.ss58Address });
  try {
    const settled: string[] = [];
    const slow = dendrite.call('Specs', { say: 'slow', wait_ms: 200 }).then((r) => (settled.push('slow'), r));
    const fast = dendrite.call('Specs', { say: 'fast' }).then((r) => (settled.push('fast'), r));
    const [s, f] = await Promise.all([slow, fast]);
    assert.equal(settled, ['fast', 'slow']);
    assert.is((s.body as { echo: string }).echo, 'slow');
    assert.is((f.body as { echo: string }).echo, 'fast');
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => dendrite.call('Specs', { say: `n${i}`, wait_ms: (i * 7) % 20 })));
    many.forEach((r, i) => assert.is((r.body as { echo: string }).echo, `n${i}`));
  } finally {
    await dendrite.close();
  }
});

real('the dendrite reconnects on the next call after the axon restarts', async () => {
  const port = t.port;
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: t.url });
  try {
    assert.is((await dendrite.call('Specs', {})).code, 200);
    await t.close();
    const down = await dendrite.call('Specs', {}).then(
      () => 'answered',
      (err: Error) => err.message,
    );
    assert.match(down, /closed|connect/);
    t = await startTestAxon({ plugins: [echoPlugin('Specs')], hotkey: t.hotkey, port });
    assert.is((await dendrite.call('Specs', { say: 'back' })).code, 200);
  } finally {
    await dendrite.close();
  }
});

real.run();

// A fake axon under the test's control: it answers each request with whatever `answer` makes.
type Answer = (req: Record<string, any>, miner: Hotkey) => Record<string, unknown> | null;
async function fakeAxon(answer: Answer) {
  const miner = generateHotkey();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      const reply = answer(decode(data) as Record<string, any>, miner);
      if (reply) ws.send(encode(reply));
    }),
  );
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  return {
    miner,
    url,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

function signedReply(req: Record<string, any>, signer: Hotkey, claimed: string, body?: Uint8Array) {
  const nonce = nextNonce();
  const message = replySigningMessage({ axonNonce: nonce, axonHotkey: claimed, dendriteHotkey: req.dendrite.hotkey, uuid: req.dendrite.uuid, id: req.id, code: 200, body });
  return { v: 1, id: req.id, name: req.name, status: { code: 200, message: 'OK' }, body, axon: { hotkey: claimed, nonce, signature: sign(signer, message) }, process_time: 0.001 };
}

const hostile = suite('dendrite against hostile axons');

hostile('a correctly signed reply from a fake axon is accepted (the fake is faithful)', async () => {
  const fake = await fakeAxon((req, miner) => signedReply(req, miner, miner.ss58Address, encode({ ok: true })));
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: fake.url, axonHotkey: fake.miner.ss58Address });
  try {
    const reply = await dendrite.call('Specs', {});
    assert.equal(reply.body, { ok: true });
  } finally {
    await dendrite.close();
    await fake.close();
  }
});

hostile('a reply signed by another key that claims the miner hotkey is rejected', async () => {
  const forger = generateHotkey();
  const fake = await fakeAxon((req, miner) => signedReply(req, forger, miner.ss58Address, encode({ ok: true })));
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: fake.url, axonHotkey: fake.miner.ss58Address });
  try {
    await dendrite.call('Specs', {}).then(
      () => assert.unreachable('a forged reply was accepted'),
      (err: Error) => assert.match(err.message, /signature does not verify/),
    );
  } finally {
    await dendrite.close();
    await fake.close();
  }
});

hostile('a reply whose body was altered after signing is rejected', async () => {
  const fake = await fakeAxon((req, miner) => ({ ...signedReply(req, miner, miner.ss58Address, encode({ ok: true })), body: encode({ ok: false }) }));
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: fake.url, axonHotkey: fake.miner.ss58Address });
  try {
    await dendrite.call('Specs', {}).then(
      () => assert.unreachable('an altered reply was accepted'),
      (err: Error) => assert.match(err.message, /signature/),
    );
  } finally {
    await dendrite.close();
    await fake.close();
  }
});

hostile('a reply signed validly by a different axon hotkey is rejected', async () => {
  const other = generateHotkey();
  const fake = await fakeAxon((req) => signedReply(req, other, other.ss58Address));
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: fake.url, axonHotkey: fake.miner.ss58Address });
  try {
    await dendrite.call('Specs', {}).then(
      () => assert.unreachable('a reply from another axon was accepted'),
      (err: Error) => assert.match(err.message, /expected axon/),
    );
  } finally {
    await dendrite.close();
    await fake.close();
  }
});

hostile('a malformed reply to a pending id rejects that call', async () => {
  const fake = await fakeAxon((req) => ({ id: req.id, status: 'fine' }));
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: fake.url, axonHotkey: fake.miner.ss58Address });
  try {
    await dendrite.call('Specs', {}).then(
      () => assert.unreachable('a malformed reply was accepted'),
      (err: Error) => assert.match(err.message, /malformed reply: .*status/),
    );
  } finally {
    await dendrite.close();
    await fake.close();
  }
});

hostile('a call with no reply times out', async () => {
  const fake = await fakeAxon(() => null);
  const dendrite = new Dendrite({ hotkey: generateHotkey(), url: fake.url, axonHotkey: fake.miner.ss58Address });
  try {
    const began = Date.now();
    await dendrite.call('Specs', {}, { timeoutSeconds: 0.2 }).then(
      () => assert.unreachable('answered'),
      (err: Error) => assert.match(err.message, /timed out/),
    );
    assert.ok(Date.now() - began >= 200);
  } finally {
    await dendrite.close();
    await fake.close();
  }
});

hostile.run();

const guard = suite('dendrite reply check');
guard('the fast reply check accepts a valid reply and never what replyEnvelopeSchema refuses', () => {
  const req = { id: 3, name: 'Specs', dendrite: { hotkey: generateHotkey().ss58Address, uuid: 'u' } };
  const miner = generateHotkey();
  const valid = signedReply(req, miner, miner.ss58Address, encode({}));
  assert.ok(isReplyEnvelope(valid));
  assert.ok(replyEnvelopeSchema.safeParse(valid).success);
  const wrongs: unknown[] = [undefined, null, -1, 1.5, 2 ** 53, '1', [], {}, Buffer.alloc(63), Buffer.alloc(64), Infinity, NaN, true, 10n];
  const paths = [['v'], ['id'], ['name'], ['status'], ['status', 'code'], ['status', 'message'], ['body'], ['axon'], ['axon', 'hotkey'], ['axon', 'nonce'], ['axon', 'signature'], ['process_time']];
  for (const path of paths) {
    for (const wrong of wrongs) {
      const reply = { ...valid, status: { ...valid.status }, axon: { ...valid.axon } } as Record<string, unknown>;
      let target = reply;
      for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
      target[path.at(-1)!] = wrong;
      if (isReplyEnvelope(reply)) assert.ok(replyEnvelopeSchema.safeParse(reply).success, `accepted ${path.join('.')} = ${String(wrong)}`);
    }
  }
});
guard.run();

const credentials = suite('allocation credentials');
const sample: AllocateCredentials = { username: 'root', password: 'p4ss-wörd', port: 4444, version: 1 };

credentials('info encrypted with node-forge decrypts with Node crypto', () => {
  const { publicKeyPem, privateKeyPem } = generateRenterKeyPair();
  const info = encryptAllocationInfo(sample, publicKeyPem);
  assert.equal(decryptAllocationInfo(info, privateKeyPem), sample);
  assert.not.equal(encryptAllocationInfo(sample, publicKeyPem), info, 'OAEP is randomised');
});

credentials('info encrypted by Node with OAEP SHA-256 decrypts too, and a wrong key or bad input is refused', () => {
  const renter = generateRenterKeyPair();
  const other = generateRenterKeyPair();
  const info = publicEncrypt({ key: renter.publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(JSON.stringify(sample))).toString('base64');
  assert.equal(decryptAllocationInfo(info, renter.privateKeyPem), sample);
  assert.throws(() => decryptAllocationInfo(info, other.privateKeyPem), /does not decrypt/);
  assert.throws(() => decryptAllocationInfo('not base64!', renter.privateKeyPem), /base64/);
  const notCredentials = encryptAllocationInfo({ username: 'admin' } as unknown as AllocateCredentials, renter.publicKeyPem);
  assert.throws(() => decryptAllocationInfo(notCredentials, renter.privateKeyPem), /username/);
});

credentials("info decrypts with Python's cryptography OAEP(MGF1(SHA256), SHA256, None)", async () => {
  const { publicKeyPem, privateKeyPem } = generateRenterKeyPair();
  const info = encryptAllocationInfo(sample, publicKeyPem);
  const script = [
    'import sys, base64',
    'from cryptography.hazmat.primitives import hashes, serialization',
    'from cryptography.hazmat.primitives.asymmetric import padding',
    'key = serialization.load_pem_private_key(sys.argv[1].encode(), password=None)',
    'print(key.decrypt(base64.b64decode(sys.argv[2]), padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)).decode())',
  ].join('\n');
  assert.equal(JSON.parse(await python(script, [privateKeyPem, info])), sample);
});

credentials.run();
