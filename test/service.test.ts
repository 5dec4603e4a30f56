// The miner as a systemd service: the unit made from the resolved flags (restart on failure,
// the data dir, KillMode=process), quoted so systemd reads each word back, verified by
// systemd-analyze; install, status and uninstall through the CLI into a directory of the test.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMinerArgs } from '../src/config.js';
import { systemdQuote, unitFile } from '../src/service/unit.js';
import { CLI } from './helpers/cli-miner.js';

interface Ctx {
  dir: string;
}
const service = suite<Ctx>('systemd service');

service.before((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'service-'));
});
service.after((ctx) => {
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

function exec(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

service('words are quoted for systemd: quotes, backslashes, $ and % survive; control characters are refused', () => {
  assert.is(systemdQuote('plain'), '"plain"');
  assert.is(systemdQuote('a "b" \\c'), '"a \\"b\\" \\\\c"');
  assert.is(systemdQuote('$HOME 100%'), '"$$HOME 100%%"');
  assert.throws(() => systemdQuote('a\nb'), /control characters/);
});

service('the unit restarts on failure, keeps rentals\' helpers on restart, and runs the miner with the resolved flags', () => {
  const parsed = parseMinerArgs(['--data-dir', 'rel/data', '--port', '9000', '--allow-any']);
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  const text = unitFile({ node: '/usr/bin/node', cli: '/opt/cm/dist/src/cli.js', config: parsed.config });
  assert.match(text, /^Restart=on-failure$/m);
  assert.match(text, /^KillMode=process$/m);
  assert.match(text, /^RestartPreventExitStatus=2 4$/m);
  assert.match(text, /^WantedBy=multi-user\.target$/m);
  // At boot: after the network is online, local file systems and the firewall, the clock and Docker's units.
  assert.match(text, /^After=network-online\.target local-fs\.target time-set\.target firewalld\.service containerd\.service docker\.service$/m);
  assert.match(text, /^Wants=network-online\.target$/m);
  assert.match(text, new RegExp(`^RequiresMountsFor=${parsed.config.stateDir} ${parsed.config.dataDir}$`, 'm'), 'the pool image\'s and the data dir\'s file systems are mounted first');
  assert.match(text, new RegExp(`^ExecStart="/usr/bin/node" "/opt/cm/dist/src/cli.js" "miner" "--data-dir" "${parsed.config.dataDir}" "--port" "9000" "--allow-any"$`, 'm'));
  assert.ok(parsed.config.dataDir.startsWith('/'), 'an absolute data dir');
});

service('install writes a unit systemd-analyze verifies without a warning; status reads it; uninstall removes it', async (ctx) => {
  const unitDir = join(ctx.dir, 'units');
  const dataDir = join(ctx.dir, 'data dir');
  const config = join(ctx.dir, 'miner.json');
  writeFileSync(config, JSON.stringify({ port: 9100, 'ssh-port': 4500, 'hashcat-arg': ['-O'], 'log-format': 'json' }));
  // The environment beats the file, the command line beats both.
  const env = { ...process.env, COMPUTE_MINER_PORT: '9200', COMPUTE_MINER_SSH_PORT: '4600' };
  const install = await exec(process.execPath, [CLI, 'service', 'install', '--unit-dir', unitDir, '--name', 'cm-test', '--data-dir', dataDir, '--config', config, '--ssh-port', '4700', '--allow-any'], env);
  assert.is(install.code, 0, install.stderr);
  const unit = join(unitDir, 'cm-test.service');
  assert.match(install.stdout, new RegExp(`unit written to ${unit}`));
  assert.is(statSync(unit).mode & 0o777, 0o644);
  assert.ok(existsSync(dataDir), 'the data dir exists for WorkingDirectory');
  const text = readFileSync(unit, 'utf8');
  assert.match(text, /"--port" "9200"/, 'the environment over the file');
  assert.match(text, /"--ssh-port" "4700"/, 'the command line over the environment');
  assert.match(text, /"--hashcat-arg=-O"/, 'the file where nothing else says');
  assert.match(text, /"--log-format" "json"/);
  assert.match(text, new RegExp(`"--data-dir" "${dataDir}"`));

  const verify = await exec('systemd-analyze', ['verify', unit]);
  assert.is(verify.code, 0, verify.stderr);
  assert.is(verify.stderr.trim(), '', `no warning: ${verify.stderr}`);

  const status = await exec(process.execPath, [CLI, 'service', 'status', '--unit-dir', unitDir, '--name', 'cm-test', '--json']);
  assert.is(status.code, 0, status.stderr);
  const doc = JSON.parse(status.stdout);
  assert.is(doc.installed, true);
  assert.match(doc.execStart, /"miner" "--data-dir"/);

  const uninstall = await exec(process.execPath, [CLI, 'service', 'uninstall', '--unit-dir', unitDir, '--name', 'cm-test']);
  assert.is(uninstall.code, 0, uninstall.stderr);
  assert.not.ok(existsSync(unit));
  const gone = await exec(process.execPath, [CLI, 'service', 'status', '--unit-dir', unitDir, '--name', 'cm-test']);
  assert.is(gone.code, 3);
  assert.match(gone.stdout, /not installed/);
});

service('a bad miner flag, config key or variable is one line, exit 2, and no unit is written', async (ctx) => {
  const unitDir = join(ctx.dir, 'never');
  const config = join(ctx.dir, 'bad.json');
  writeFileSync(config, JSON.stringify({ prot: 9000 }));
  for (const [args, env, message] of [
    [['--port', 'abc'], {}, /^error: --port must be a whole number/],
    [['--config', config], {}, /^error: --config .*bad\.json: "prot": unknown key \(did you mean "port"\?\)$/],
    [[], { COMPUTE_MINER_SSH_PROT: '1' }, /^error: COMPUTE_MINER_SSH_PROT: unknown variable \(did you mean COMPUTE_MINER_SSH_PORT\?\)$/],
    [[], { COMPUTE_MINER_PORT: 'x' }, /^error: --port must be a whole number, not "x" \(from COMPUTE_MINER_PORT\)$/],
  ] as const) {
    const r = await exec(process.execPath, [CLI, 'service', 'install', '--unit-dir', unitDir, ...args], { ...process.env, ...env });
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), message);
    assert.is(r.stderr.trim().split('\n').length, 1);
  }
  assert.not.ok(existsSync(unitDir));
});

service.run();
