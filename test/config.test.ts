import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { minerFlags, parseMinerArgs, MINER_DEFAULTS } from '../src/config.js';

test('no flags gives the documented defaults', () => {
  const r = parseMinerArgs([]);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.config.port, MINER_DEFAULTS.port);
  assert.is(r.config.sshPort, MINER_DEFAULTS.sshPort);
  assert.is(r.config.sshBind, '0.0.0.0');
  assert.is(r.config.allowAny, false);
  assert.ok(r.config.dataDir.endsWith('.miner'));
});

test('flags are read', () => {
  const r = parseMinerArgs(['--port', '9000', '--ssh-port', '2222', '--ssh-bind', '127.0.0.1', '--allow-any', '--hashcat-arg=-O', '--hashcat-arg=--force']);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.config.port, 9000);
  assert.is(r.config.sshPort, 2222);
  assert.is(r.config.sshBind, '127.0.0.1');
  assert.is(r.config.allowAny, true);
  assert.equal(r.config.hashcatExtraArgs, ['-O', '--force']);
});

test('containment and pool flags are read; the rental daemon is the default engine', () => {
  const d = parseMinerArgs([]);
  assert.ok(d.ok);
  if (d.ok) {
    assert.is(d.config.dockerSocket, undefined);
    assert.is(d.config.pidsLimit, 2048);
    assert.is(d.config.poolSizeBytes, 32 * 1024 ** 3);
    assert.is(d.config.allowUnisolated, false);
  }
  const r = parseMinerArgs(['--pids-limit', '500', '--nofile', '4096', '--rental-log-size', '2M', '--rental-log-files', '3', '--pool-size', '100G', '--state-dir', '/srv/cm', '--docker-socket', '/run/d.sock', '--allow-unisolated']);
  assert.ok(r.ok, r.ok ? '' : r.error);
  if (!r.ok) return;
  assert.is(r.config.pidsLimit, 500);
  assert.is(r.config.nofile, 4096);
  assert.is(r.config.logMaxBytes, 2 * 1024 ** 2);
  assert.is(r.config.logFiles, 3);
  assert.is(r.config.poolSizeBytes, 100 * 1024 ** 3);
  assert.is(r.config.stateDir, '/srv/cm');
  assert.is(r.config.dockerSocket, '/run/d.sock');
  assert.is(r.config.allowUnisolated, true);
});

test('--standby N: warm containers per host, 1 by default, 0 turns them off, at most 16; the service flags give it back', () => {
  const standby = (argv: string[]) => { const r = parseMinerArgs(argv); if (!r.ok) throw new Error(r.error); return r.config; };
  assert.is(MINER_DEFAULTS.standby, 1);
  assert.is(standby([]).standby, 1);
  assert.is(standby(['--standby', '0']).standby, 0);
  assert.is(standby(['--standby=4']).standby, 4);
  assert.is(standby(['--standby', '16']).standby, 16);
  // What `service install` writes: the default is left out, any other value kept.
  assert.not.ok(minerFlags(standby([])).includes('--standby'));
  const flags = minerFlags(standby(['--standby', '3']));
  assert.equal(flags.slice(flags.indexOf('--standby'), flags.indexOf('--standby') + 2), ['--standby', '3']);
  assert.is(standby(flags).standby, 3);
  assert.is(standby(minerFlags(standby(['--standby', '0']))).standby, 0);
});

const bad: [string[], RegExp][] = [
  [['--standby', '17'], /^--standby must be 0–16, not 17$/],
  [['--standby', '-1'], /--standby/],
  [['--standby', 'two'], /^--standby must be a whole number, not "two"$/],
  [['--standby', '1.5'], /^--standby must be a whole number/],
  [['--pids-limit', '0'], /--pids-limit: pids limit must be a whole number from 32/],
  [['--pids-limit', '-5'], /--pids-limit/],
  [['--pids-limit', 'lots'], /--pids-limit must be a whole number/],
  [['--nofile', '10'], /--nofile: nofile must be/],
  [['--rental-log-size', '1K'], /--rental-log-size: log size must be/],
  [['--rental-log-size', 'big'], /--rental-log-size must be a size/],
  [['--rental-log-files', '50'], /--rental-log-files: log files must be/],
  [['--pool-size', '1G'], /--pool-size must be a size of at least 2G/],
  [['--pool-size', 'huge'], /--pool-size must be a size/],
  [['--state-dir', ' '], /--state-dir must not be empty/],
  [['--docker-socket', ''], /--docker-socket/],
  [['--port', 'abc'], /--port must be a whole number/],
  [['--port', '70000'], /--port must be 0–65535/],
  [['--port', '-1'], /--port/],
  [['--ssh-port', '0'], /--ssh-port must be 1–65535/],
  [['--ssh-bind', 'example.com'], /--ssh-bind must be an IP address/],
  [['--host', '1.2.3'], /--host must be an IP address/],
  [['--log-format', 'xml'], /--log-format/],
  [['--log-level', 'loud'], /--log-level/],
  [['--min-stake', '-5'], /--min-stake/],
  [['--hashcat-workload', '9'], /--hashcat-workload must be 1–4/],
  [['--challenge-max-difficulty', '40'], /--challenge-max-difficulty/],
  [['--base-image-from', 'bad image; rm -rf /'], /--base-image-from/],
  [['--validators', 'v.txt', '--allow-any'], /exclude each other/],
  [['--port', '4444'], /must differ/],
  [['--no-such-flag'], /unknown option --no-such-flag/],
  [['stray'], /unexpected argument/],
  [['--data-dir', ' '], /--data-dir/],
];
for (const [argv, message] of bad) {
  test(`refuses ${argv.join(' ')}`, () => {
    const r = parseMinerArgs(argv);
    assert.not.ok(r.ok);
    if (!r.ok) assert.match(r.error, message);
  });
}

test.run();
