// `--hosts FILE`: a good file reads into host entries; every bad one is refused with the line and
// column (JSON syntax) or the JSON path (schema, names, pools, TLS files) of the problem.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineColumn, jsonSyntaxFault } from '../src/fleet/json-syntax.js';
import { HostsFileError, jsonPath, parseEngine, parseHostsText, readHostsFile } from '../src/fleet/hosts-file.js';
import { readTlsMaterial, TlsFileError } from '../src/fleet/tls-files.js';
import { makeTlsSet, type TlsSet } from './helpers/tls-certs.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-hosts-'));
// Made before the table below is built, which names these files.
const [tls, other] = ((): [TlsSet, TlsSet] => {
  try {
    return [makeTlsSet(join(dir, 'tls')), makeTlsSet(join(dir, 'other'), 'other')];
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
})();
test.after(() => rmSync(dir, { recursive: true, force: true }));

const local = { name: 'local', engine: 'unix:///var/run/docker.sock', address: '203.0.113.1', ssh_bind: '0.0.0.0', ssh_ports: '4444-4459' };
const remote = () => ({
  name: 'gpu-a', engine: 'tcp://10.0.0.5:2376', tls: { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey },
  address: 'gpu-a.example.org', ssh_bind: '10.0.0.5', ssh_ports: '4444-4459,4470', renter_ports: '30000-30099',
});

function writeHosts(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** The problems a hosts file is refused with (fails the test when it is accepted). */
function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof HostsFileError) return err.problems;
    throw err;
  }
  assert.unreachable('the hosts file was accepted');
  return [];
}

const parse = (value: unknown) => parseHostsText(typeof value === 'string' ? value : JSON.stringify(value, null, 2), { source: 'hosts.json', baseDir: dir });

test('a good file: unix and mutual-TLS tcp hosts, pools read, machines named', () => {
  const file = writeHosts('good.json', { hosts: [local, remote()] });
  const hosts = readHostsFile(file);
  assert.is(hosts.length, 2);
  assert.equal(hosts[0]!.engine, { kind: 'unix', socketPath: '/var/run/docker.sock' });
  assert.is(hosts[0]!.tls, null);
  assert.is(hosts[0]!.machine, 'local');
  assert.is(hosts[0]!.sshPorts.ports.length, 16);
  assert.is(hosts[0]!.renterPorts, null);
  assert.equal(hosts[1]!.engine, { kind: 'tcp', host: '10.0.0.5', port: 2376 });
  assert.equal(hosts[1]!.tls, { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey });
  assert.is(hosts[1]!.insecurePlainTcp, false);
  assert.is(hosts[1]!.machine, '10.0.0.5');
  assert.equal(hosts[1]!.sshPorts.ports.at(-1), 4470);
  assert.is(hosts[1]!.renterPorts!.ports.length, 100);
});

test('a single port may be a number', () => {
  assert.equal(parse({ hosts: [{ ...local, ssh_ports: 4444 }] })[0]!.sshPorts.ports, [4444]);
});

test('relative TLS paths are read from the hosts file\'s folder', () => {
  const sub = join(dir, 'conf');
  mkdirSync(join(sub, 'certs'), { recursive: true });
  copyFileSync(tls.ca, join(sub, 'certs', 'ca.pem'));
  copyFileSync(tls.clientCert, join(sub, 'certs', 'cert.pem'));
  copyFileSync(tls.clientKey, join(sub, 'certs', 'key.pem'));
  const file = join(sub, 'hosts.json');
  writeFileSync(file, JSON.stringify({ hosts: [{ ...remote(), tls: { ca: 'certs/ca.pem', cert: 'certs/cert.pem', key: './certs/key.pem' } }] }));
  assert.equal(readHostsFile(file)[0]!.tls, { ca: join(sub, 'certs', 'ca.pem'), cert: join(sub, 'certs', 'cert.pem'), key: join(sub, 'certs', 'key.pem') });
});

test('an unreadable hosts file: missing, or a folder', () => {
  assert.equal(problems(() => readHostsFile(join(dir, 'nope.json'))), ['cannot read the hosts file: no such file']);
  assert.equal(problems(() => readHostsFile(dir)), ['cannot read the hosts file: it is a folder']);
  const err = (() => { try { readHostsFile(join(dir, 'nope.json')); } catch (e) { return e as Error; } return null; })();
  assert.is(err!.message, `${join(dir, 'nope.json')}: cannot read the hosts file: no such file`);
});

test('malformed JSON: line and column of the fault', () => {
  const VALUE = 'expected a value (object, list, string, number, true, false or null)';
  assert.equal(problems(() => parse('{\n  "hosts": [\n    {"name": "a",}\n  ]\n}')), ['line 3, column 18: not valid JSON: expected a field name in double quotes, found "}"']);
  assert.equal(problems(() => parse('{"hosts": [')), [`line 1, column 12: not valid JSON: ${VALUE}, found the end of the file`]);
  assert.equal(problems(() => parse('')), [`line 1, column 1: not valid JSON: ${VALUE}, found the end of the file`]);
  assert.equal(problems(() => parse('\n\n  hosts: []')), [`line 3, column 3: not valid JSON: ${VALUE}, found "h"`]);
  assert.equal(problems(() => parse('{"hosts": [{"name": "a"\n  "engine": "x"}]}')), ['line 2, column 3: not valid JSON: expected "," or "}", found """']);
  assert.equal(problems(() => parse('{"hosts": []} x')), ['line 1, column 15: not valid JSON: expected the end of the file after the value, found "x"']);
  assert.equal(problems(() => parse("{'hosts': []}")), [`line 1, column 2: not valid JSON: expected a field name in double quotes, found "'"`]);
});

test('jsonSyntaxFault: agrees with JSON.parse on what is valid', () => {
  const texts = ['{}', '[]', '"a"', '-0.5e+3', '{"a": [1, true, false, null, {"b": "\\u00e9\\n"}]}', ' 1 ', '{"a":1,}', '[1,]', '01', '"\\x"', '"a\nb"', '{"a" 1}', 'tru', '1 2', '-', '1.', '{"a":"b}'];
  for (const text of texts) {
    let valid = true;
    try { JSON.parse(text); } catch { valid = false; }
    assert.is(jsonSyntaxFault(text) === null, valid, text);
  }
  const deep = '['.repeat(300) + ']'.repeat(300);
  assert.match(jsonSyntaxFault(deep)?.message ?? '', /nested deeper than 256/);
});

const SCHEMA: [string, unknown, string[]][] = [
  ['not an object', [], ['(top level): must be an object {"hosts": [...]}']],
  ['no hosts list', {}, ['hosts: required: the list of hosts']],
  ['an empty list', { hosts: [] }, ['hosts: must list at least one host']],
  ['a host that is not an object', { hosts: [null, 'x'] }, ['hosts[0]: must be an object', 'hosts[1]: must be an object']],
  ['a missing field', { hosts: [local, { ...remote(), ssh_ports: undefined }] }, ['hosts[1].ssh_ports: required']],
  ['missing fields, each named', { hosts: [{ name: 'x' }] }, ['hosts[0].engine: required', 'hosts[0].address: required', 'hosts[0].ssh_bind: required', 'hosts[0].ssh_ports: required']],
  ['a wrong type', { hosts: [{ ...local, ssh_ports: true }] }, ['hosts[0].ssh_ports: must be a port or a range/list text like "4444-4459,4470"']],
  ['an unknown field (a typo)', { hosts: [{ ...local, ssh_port: 22 }] }, ['hosts[0]: unknown field "ssh_port"']],
  ['an unknown TLS field', { hosts: [{ ...remote(), tls: { ...remote().tls, password: 'x' } }] }, ['hosts[0].tls: unknown field "password"']],
  ['a bad name', { hosts: [{ ...local, name: 'has space' }] }, ['hosts[0].name: must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit']],
  ['a bind that is not an IP address', { hosts: [{ ...local, ssh_bind: 'eth0' }] }, ['hosts[0].ssh_bind: must be an IP address of that host (0.0.0.0 for all)']],
  ['an address renters cannot reach', { hosts: [{ ...local, address: 'not an address' }] }, ['hosts[0].address: must be an IP address or a DNS name renters can reach']],
  ['an engine of another scheme', { hosts: [{ ...local, engine: 'http://10.0.0.5:2375' }] }, ['hosts[0].engine: must be unix:///path/to/docker.sock or tcp://host:port']],
  ['a relative socket', { hosts: [{ ...local, engine: 'unix://docker.sock' }] }, ['hosts[0].engine: a unix engine is unix:///absolute/path (three slashes)']],
  ['a tcp engine without a port', { hosts: [{ ...remote(), engine: 'tcp://10.0.0.5' }] }, ['hosts[0].engine: a tcp engine needs its port (Docker uses 2376 for TLS)']],
  ['a bad port pool', { hosts: [{ ...local, ssh_ports: '4459-4444' }] }, ['hosts[0].ssh_ports: "4459-4444" runs backwards (4459 > 4444); write 4444-4459']],
  ['a duplicate name', { hosts: [local, { ...remote(), name: 'local' }] }, ['hosts[1].name: "local" is already the name of hosts[0]']],
  ['one engine twice', { hosts: [local, { ...local, name: 'again', ssh_ports: '5000' }] }, ['hosts[1].engine: unix:///var/run/docker.sock is already hosts[0]\'s engine']],
  ['TLS on a unix socket', { hosts: [{ ...local, tls: remote().tls }] }, ['hosts[0].tls: only a tcp:// engine uses TLS; remove it for unix:///var/run/docker.sock']],
  ['both TLS and plain TCP', { hosts: [{ ...remote(), insecure_plain_tcp: true }] }, ['hosts[0]: "tls" and "insecure_plain_tcp": true contradict each other; keep one']],
];

for (const [name, value, expected] of SCHEMA) {
  test(`schema: ${name}`, () => assert.equal(problems(() => parse(value)), expected));
}

test('plain TCP: refused without TLS unless "insecure_plain_tcp": true says so', () => {
  const plain = { ...remote(), tls: undefined };
  assert.match(problems(() => parse({ hosts: [plain] }))[0]!, /^hosts\[0\]\.tls: required for tcp:\/\/10\.0\.0\.5:2376: \{"ca", "cert", "key"\} for mutual TLS; plain TCP gives the engine to anyone/);
  assert.match(problems(() => parse({ hosts: [{ ...plain, insecure_plain_tcp: false }] }))[0]!, /^hosts\[0\]\.tls: required/);
  const allowed = parse({ hosts: [{ ...plain, insecure_plain_tcp: true }] })[0]!;
  assert.is(allowed.insecurePlainTcp, true);
  assert.is(allowed.tls, null);
});

test('overlapping port pools: within a host, and across hosts on one machine and address', () => {
  assert.equal(problems(() => parse({ hosts: [{ ...local, renter_ports: '4459-4500' }] })), ['hosts[0].ssh_ports and hosts[0].renter_ports overlap on 0.0.0.0: port 4459']);
  // Two engines on this machine (a socket and loopback TCP) publish into the same ports.
  const loop = { ...remote(), name: 'loop', engine: 'tcp://127.0.0.1:2376', ssh_bind: '127.0.0.1', ssh_ports: '4450-4451', renter_ports: undefined };
  assert.equal(problems(() => parse({ hosts: [local, loop] })), ['hosts[0].ssh_ports and hosts[1].ssh_ports overlap on 127.0.0.1: ports 4450, 4451']);
  // The same ports on another machine, or another address of this one, are fine.
  assert.is(parse({ hosts: [local, remote()] }).length, 2);
  assert.is(parse({ hosts: [{ ...local, ssh_bind: '127.0.0.2' }, loop] }).length, 2);
});

test('several problems are reported together', () => {
  const got = problems(() => parse({ hosts: [{ ...local, engine: 'ftp://x' }, { ...local, name: 'local', engine: 'unix:///b.sock', ssh_ports: '0' }] }));
  assert.equal(got, [
    'hosts[0].engine: must be unix:///path/to/docker.sock or tcp://host:port',
    'hosts[1].name: "local" is already the name of hosts[0]',
    'hosts[1].ssh_ports: port 0 in "0" is outside 1..65535',
  ]);
});

test('TLS files: missing, not PEM, a key in place of a certificate, a key of another certificate', () => {
  const bad = (name: string, files: Partial<{ ca: string; cert: string; key: string }>) => problems(() => readHostsFile(writeHosts(name, { hosts: [local, { ...remote(), tls: { ...remote().tls, ...files } }] })));
  assert.equal(bad('missing.json', { key: join(dir, 'gone.pem') }), [`hosts[1].tls.key: cannot read ${join(dir, 'gone.pem')}: no such file`]);
  writeHosts('text.pem', 'hello\n');
  assert.equal(bad('text.json', { ca: join(dir, 'text.pem') }), [`hosts[1].tls.ca: not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block) (${join(dir, 'text.pem')})`]);
  assert.equal(bad('swapped.json', { cert: tls.clientKey }), [`hosts[1].tls.cert: not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block) (${tls.clientKey})`]);
  assert.equal(bad('mismatch.json', { key: other.clientKey }), [`hosts[1].tls.key: does not belong to the certificate in hosts[1].tls.cert (${other.clientKey})`]);
  assert.equal(bad('folder.json', { ca: dir }), [`hosts[1].tls.ca: cannot read ${dir}: it is a folder`]);
});

test('readTlsMaterial: an encrypted key is refused, the good set reads', () => {
  const m = readTlsMaterial({ ca: tls.ca, cert: tls.clientCert, key: tls.clientKey }, 'tls');
  assert.ok(m.ca.length > 0 && m.cert.length > 0 && m.key.length > 0);
  const encrypted = writeHosts('enc.pem', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n');
  assert.throws(() => readTlsMaterial({ ca: tls.ca, cert: tls.clientCert, key: encrypted }, 'tls'), (e: unknown) => e instanceof TlsFileError && /tls\.key: the key is encrypted/.test((e as Error).message));
});

test('helpers: JSON paths, line and column, engine addresses', () => {
  assert.is(jsonPath(['hosts', 1, 'ssh_ports']), 'hosts[1].ssh_ports');
  assert.is(jsonPath([]), '(top level)');
  assert.equal(lineColumn('ab\ncd', 4), { line: 2, column: 2 });
  assert.equal(parseEngine('tcp://[::1]:2376'), { kind: 'tcp', host: '::1', port: 2376 });
  assert.equal(parseEngine('tcp://docker-a.internal:2376'), { kind: 'tcp', host: 'docker-a.internal', port: 2376 });
  assert.is(parseEngine('tcp://user:pw@10.0.0.5:2376'), 'a tcp engine is tcp://host:port, with nothing after the port');
  assert.is(parseEngine('tcp://10.0.0.5:2376/v1.41'), 'a tcp engine is tcp://host:port, with nothing after the port');
  assert.is(parseEngine('tcp://10.0.0.5:99999'), 'not a tcp://host:port address');
});

test.run();
