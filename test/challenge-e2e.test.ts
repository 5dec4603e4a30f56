// A validator's Challenge rounds over a real axon and Dendrite: request → solve → signed reply → verified answer.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateHotkey } from '../protocol/index.js';
import { challengePlugin } from '../src/handlers/challenge.js';
import { Dendrite } from '../src/validator/dendrite.js';
import { generateChallenge, runChallenges, verifyAnswer, CHALLENGE_ALPHABET } from '../src/validator/challenge.js';
import { startTestAxon, type TestAxon } from './helpers/axon.js';
import { pythonBlake2b } from './helpers/challenge.js';

const test = suite('Challenge end to end');
const plugin = challengePlugin({ solver: 'built-in', threads: 2 });
let axon: TestAxon;
let dendrite: Dendrite;

test.before(async () => {
  axon = await startTestAxon({ plugins: [plugin] });
  dendrite = new Dendrite({ hotkey: generateHotkey(), url: axon.url, axonHotkey: axon.hotkey.ss58Address });
});

test.after(async () => {
  await dendrite?.close();
  await axon?.close();
  await plugin.close();
});

test('generator: charset of 10 distinct reference characters, 16-hex salt, hash python agrees with', async () => {
  for (const difficulty of [1, 5, 12]) {
    const { request, password } = generateChallenge(difficulty);
    const chars = [...request.challenge_chars];
    assert.is(chars.length, 10);
    assert.is(new Set(chars).size, 10);
    assert.ok(chars.every((c) => CHALLENGE_ALPHABET.includes(c)));
    assert.match(request.challenge_salt, /^[0-9a-f]{16}$/);
    assert.is(request.challenge_mask, '?1'.repeat(difficulty));
    assert.is(request.challenge_mode, '610');
    assert.is([...password].length, difficulty);
    const [hex] = await pythonBlake2b([[password, request.challenge_salt]]);
    assert.is(request.challenge_hash, `$BLAKE2$${hex}`);
  }
});

test('verifier: accepts the answer, rejects wrong, too long, off-charset and non-string answers', () => {
  const { request, password } = generateChallenge(4);
  assert.ok(verifyAnswer(request, password));
  assert.not.ok(verifyAnswer(request, null));
  assert.not.ok(verifyAnswer(request, password + password[0]));
  const other = [...request.challenge_chars].find((c) => c !== password[0])!;
  assert.not.ok(verifyAnswer(request, other + password.slice(1)));
  assert.not.ok(verifyAnswer(request, '~~~~'));
});

test('runChallenges: rounds through axon and dendrite come back verified with solve times', async () => {
  const seen: number[] = [];
  const rounds = await runChallenges(dendrite, { difficulty: 4, rounds: 3, onRound: (r) => seen.push(r.round) });
  assert.equal(seen, [1, 2, 3]);
  for (const r of rounds) {
    assert.is(r.code, 200);
    assert.is(r.error, null);
    assert.ok(r.verified);
    assert.ok(r.latencyMs > 0);
    assert.ok(r.localExecutionTime !== null && r.localExecutionTime >= 0);
  }
});

test('a refused challenge comes back as code 200 with the error, and runChallenges rejects bad options', async () => {
  const { request } = generateChallenge(3);
  const reply = await dendrite.call('Challenge', { ...request, challenge_difficulty: 13, challenge_mask: '?1'.repeat(13) });
  assert.is(reply.code, 200);
  const output = (reply.body as { output: { password: unknown; error: string } }).output;
  assert.is(output.password, null);
  assert.match(output.error, /challenge_difficulty/);
  try {
    await runChallenges(dendrite, { difficulty: 0 });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /difficulty/);
  }
});

test.run();
