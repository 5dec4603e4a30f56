// Runs short Python programs as a second, independent implementation of the wire format
// (python3-msgpack, python3-nacl). Arguments travel as argv and data as hex on stdin/stdout;
// nothing passes through a shell.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

// Debian's interpreter first: the python3-* packages install there, whatever else is on PATH.
const CANDIDATES = ['/usr/bin/python3', 'python3'];
const MODULES = ['msgpack', 'nacl'];
const TIMEOUT_MS = 30_000;

function run(interpreter: string, args: string[], stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(interpreter, args, { timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${interpreter} failed: ${error.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
    child.stdin?.on('error', () => undefined); // the program may exit before reading stdin
    child.stdin?.end(stdin);
  });
}

let chosen: Promise<string> | undefined;

/** The first Python 3 that imports msgpack and nacl; rejects (so tests fail) when there is none. */
export function pythonInterpreter(): Promise<string> {
  chosen ??= (async () => {
    const probe = MODULES.map((m) => `import ${m}`).join('; ');
    for (const candidate of CANDIDATES) {
      if (candidate.startsWith('/') && !existsSync(candidate)) continue;
      try {
        await run(candidate, ['-c', probe], '');
        return candidate;
      } catch {
        // try the next one
      }
    }
    throw new Error(`no python3 with ${MODULES.join(', ')} (apt-get install python3-msgpack python3-nacl)`);
  })();
  return chosen;
}

/** Runs `python3 -c program arg...` with `stdin`; returns stdout without surrounding whitespace. */
export async function python(program: string, args: string[] = [], stdin = ''): Promise<string> {
  return run(await pythonInterpreter(), ['-c', program, ...args], stdin);
}

// Decodes hex MessagePack from stdin and prints it as JSON: bin as {"bin": hex},
// integers as {"int": "decimal"} so their type (integer, not float) is visible.
const TO_JSON = `
import sys, json, msgpack
def tag(v):
    if isinstance(v, bool) or v is None: return v
    if isinstance(v, int): return {"int": str(v)}
    if isinstance(v, float): return {"float": repr(v)}
    if isinstance(v, bytes): return {"bin": v.hex()}
    if isinstance(v, str): return v
    if isinstance(v, list): return [tag(x) for x in v]
    if isinstance(v, dict): return {k: tag(x) for k, x in v.items()}
    raise TypeError(type(v))
data = bytes.fromhex(sys.stdin.read().strip())
print(json.dumps(tag(msgpack.unpackb(data, raw=False, strict_map_key=True))))
`;

/** What Python's msgpack makes of these bytes, in the tagged JSON form described above. */
export async function pythonDecode(bytes: Uint8Array): Promise<unknown> {
  return JSON.parse(await python(TO_JSON, [], Buffer.from(bytes).toString('hex')));
}

/** Python's msgpack encoding of a Python literal expression (e.g. `{"n": 1764331200123456}`). */
export async function pythonEncode(expression: string): Promise<Buffer> {
  const out = await python('import sys, msgpack, ast\nprint(msgpack.packb(ast.literal_eval(sys.argv[1]), use_bin_type=True).hex())', [expression]);
  return Buffer.from(out, 'hex');
}

/** Signs with PyNaCl (libsodium): returns the 64-byte detached signature. */
export async function pythonSign(seed: Uint8Array, message: Uint8Array): Promise<Buffer> {
  const [signature] = await pythonSignMany([{ seed, message }]);
  if (!signature) throw new Error('python produced no signature');
  return signature;
}

/**
 * Verifies with PyNaCl each (publicKey, message, signature) triple; returns one boolean each.
 * Batched so that many random messages cost one process.
 */
export async function pythonVerifyMany(items: { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }[]): Promise<boolean[]> {
  const program = `
import sys, json, nacl.signing, nacl.exceptions
out = []
for line in sys.stdin.read().splitlines():
    pk, msg, sig = (line.split(" ") + ["", "", ""])[:3]
    try:
        nacl.signing.VerifyKey(bytes.fromhex(pk)).verify(bytes.fromhex(msg), bytes.fromhex(sig))
        out.append(True)
    except nacl.exceptions.BadSignatureError:
        out.append(False)
print(json.dumps(out))
`;
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const stdin = items.map((i) => `${hex(i.publicKey)} ${hex(i.message)} ${hex(i.signature)}`).join('\n');
  return JSON.parse(await python(program, [], stdin)) as boolean[];
}

/** Signs each (seed, message) pair with PyNaCl; returns the signatures in order. */
export async function pythonSignMany(items: { seed: Uint8Array; message: Uint8Array }[]): Promise<Buffer[]> {
  const program = `
import sys, nacl.signing
for line in sys.stdin.read().splitlines():
    seed, msg = (line.split(" ") + [""])[:2]
    print(nacl.signing.SigningKey(bytes.fromhex(seed)).sign(bytes.fromhex(msg)).signature.hex())
`;
  const stdin = items.map((i) => `${Buffer.from(i.seed).toString('hex')} ${Buffer.from(i.message).toString('hex')}`).join('\n');
  const out = await python(program, [], stdin);
  return out.split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex'));
}

/** The public key PyNaCl derives from a seed. */
export async function pythonPublicKey(seed: Uint8Array): Promise<Buffer> {
  const out = await python('import sys, nacl.signing\nprint(nacl.signing.SigningKey(bytes.fromhex(sys.stdin.read().strip())).verify_key.encode().hex())', [], Buffer.from(seed).toString('hex'));
  return Buffer.from(out, 'hex');
}
