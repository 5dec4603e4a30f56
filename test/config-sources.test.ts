// Flags from three places: the command line over COMPUTE_MINER_<FLAG> variables over a JSON
// --config file over the defaults, each value checked like a flag and a mistake naming where
// it came from; minerFlags() gives a configuration back as flags (what the service unit runs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { minerFlags, parseMinerArgs, type MinerSources } from '../src/config.js';

const files = (docs: Record<string, unknown>): MinerSources['readFile'] => (path) => {
  if (!(path in docs)) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  return typeof docs[path] === 'string' ? (docs[path] as string) : JSON.stringify(docs[path]);
};

test('precedence: command line > environment > config file > default', () => {
  const readFile = files({ 'm.json': { port: 9001, 'ssh-port': 5001, 'min-stake': 7, 'allow-any': true, 'hashcat-arg': ['-O'] } });
  const env = { COMPUTE_MINER_PORT: '9002', COMPUTE_MINER_SSH_PORT: '5002' };
  const r = parseMinerArgs(['--config', 'm.json', '--ssh-port', '5003'], { env, readFile });
  assert.ok(r.ok, r.ok ? '' : r.error);
  if (!r.ok) return;
  assert.is(r.config.port, 9002, 'env over file');
  assert.is(r.config.sshPort, 5003, 'command line over env');
  assert.is(r.config.minStake, 7, 'file over default');
  assert.is(r.config.allowAny, true);
  assert.equal(r.config.hashcatExtraArgs, ['-O']);
  assert.is(r.config.host, '0.0.0.0', 'default where nobody says');
});

test('COMPUTE_MINER_CONFIG names the file; booleans and lists from variables', () => {
  const r = parseMinerArgs([], { env: { COMPUTE_MINER_CONFIG: 'c.json', COMPUTE_MINER_ALLOW_ANY: 'true', COMPUTE_MINER_HASHCAT_ARG: '-O --force' }, readFile: files({ 'c.json': { port: 9100 } }) });
  assert.ok(r.ok && r.config.port === 9100 && r.config.allowAny && r.config.hashcatExtraArgs.join(' ') === '-O --force');
  const off = parseMinerArgs([], { env: { COMPUTE_MINER_ALLOW_ANY: 'false' } });
  assert.ok(off.ok && !off.config.allowAny);
  const ed = parseMinerArgs([], { env: { COMPUTE_MINER_ED25519: 'node' } });
  assert.ok(ed.ok, 'COMPUTE_MINER_ED25519 is not a miner flag and not a mistake');
});

const refused: [string[], MinerSources, RegExp][] = [
  [['--config', 'x.json'], { readFile: files({}) }, /^--config x\.json: no such file$/],
  [['--config', 'x.json'], { readFile: files({ 'x.json': '{"port": 1,' }) }, /^--config x\.json: not JSON/],
  [['--config', 'x.json'], { readFile: files({ 'x.json': [1] }) }, /must be a JSON object of flags/],
  [['--config', 'x.json'], { readFile: files({ 'x.json': { prot: 1 } }) }, /^--config x\.json: "prot": unknown key \(did you mean "port"\?\)$/],
  [['--config', 'x.json'], { readFile: files({ 'x.json': { config: 'y.json' } }) }, /"config": unknown key/],
  [['--config', 'x.json'], { readFile: files({ 'x.json': { 'allow-any': 'maybe' } }) }, /"allow-any": must be true or false/],
  [['--config', 'x.json'], { readFile: files({ 'x.json': { port: 'abc' } }) }, /^--port must be a whole number, not "abc" \(from --config x\.json\)$/],
  [[], { env: { COMPUTE_MINER_PORT: '-1' } }, /^--port must be a whole number, not "-1" \(from COMPUTE_MINER_PORT\)$/],
  [[], { env: { COMPUTE_MINER_VALIDATOR: 'v.txt' } }, /^COMPUTE_MINER_VALIDATOR: unknown variable \(did you mean COMPUTE_MINER_VALIDATORS\?\)$/],
  [['--log-file', ''], {}, /--log-file must not be empty/],
];
for (const [argv, sources, message] of refused) {
  test(`refuses ${JSON.stringify([argv, sources.env ?? ''])} → ${message.source}`, () => {
    const r = parseMinerArgs(argv, sources);
    assert.not.ok(r.ok);
    if (!r.ok) assert.match(r.error, message);
  });
}

test('minerFlags gives the configuration back through parseMinerArgs', () => {
  const r = parseMinerArgs(['--data-dir', '/srv/m', '--port', '9000', '--validators', '/etc/v.txt', '--hashcat-arg=-O', '--log-file', '/var/log/m.log', '--name-prefix', 'a-']);
  assert.ok(r.ok);
  if (!r.ok) return;
  const again = parseMinerArgs(minerFlags(r.config));
  assert.ok(again.ok);
  if (again.ok) assert.equal(again.config, r.config);
});

test.run();
