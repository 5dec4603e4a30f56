// Interop: test/interop/client.py, a validator client written in Python from PROTOCOL.md alone
// (Debian's nacl, msgpack, websockets and cryptography; its own SS58 and signing strings),
// against a real miner on the real Docker daemon: Specs, an Allocate of a test container whose
// `info` it decrypts with cryptography's OAEP-SHA256, an SSH login with that password from
// here, and the de-allocation. It also refuses replies signed by the wrong key.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { generateHotkey } from '../protocol/index.js';
import type { TestAxon } from './helpers/axon.js';
import { sshRun } from './helpers/docker.js';
import { rentedContainers, startTestMiner, type TestMiner } from './helpers/miner.js';
import { impostorHotkey, output, startFakeMiner } from './helpers/miner-fakes.js';
import { python, pythonInterpreter } from './helpers/python.js';

// dist/test/interop.test.js → test/interop/client.py (the Python file is not compiled).
const CLIENT = fileURLToPath(new URL('../../test/interop/client.py', import.meta.url));
const CLIENT_TIMEOUT_MS = 120_000;

interface Ctx {
  miner: TestMiner;
  impostor: TestAxon;
  children: ChildProcessWithoutNullStreams[];
}
const interop = suite<Ctx>('interop: Python client from PROTOCOL.md');

interop.before(async (ctx) => {
  ctx.children = [];
  // Fails, never skips, when Debian's Python packages are missing.
  await python('import msgpack, nacl.signing, websockets, cryptography');
  ctx.miner = await startTestMiner({ area: 'interop' });
  ctx.impostor = await startFakeMiner(() => output(true), impostorHotkey());
});

interop.after(async (ctx) => {
  for (const child of ctx.children ?? []) if (child.exitCode === null) child.kill('SIGKILL');
  await ctx.impostor?.close();
  await ctx.miner?.close(); // removes every container of this run, even after a failure
});

type Line = Record<string, unknown> & { step: string };

/** Starts the client; `lines` yields its stdout JSON objects as they come. */
async function startClient(ctx: Ctx, args: string[]) {
  const child = spawn(await pythonInterpreter(), [CLIENT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  ctx.children.push(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), CLIENT_TIMEOUT_MS);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  const received: Line[] = [];
  const waiters: (() => void)[] = [];
  let buffered = '';
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (text.trim() !== '') received.push(JSON.parse(text) as Line);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    waiters.splice(0).forEach((w) => w());
    resolve(code ?? -1);
  }));
  return {
    child,
    exited,
    stderr: () => stderr,
    received,
    /** The first line of `step`, waiting for it; rejects when the client exits without it. */
    async line(step: string): Promise<Line> {
      for (;;) {
        const found = received.find((l) => l.step === step || l.step === 'error');
        if (found) {
          if (found.step === 'error') throw new Error(`client failed: ${JSON.stringify(found)} ${stderr}`);
          return found;
        }
        if (child.exitCode !== null) throw new Error(`client exited ${child.exitCode} without a ${step} line: ${stderr}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

const runContainers = (ctx: Ctx) => rentedContainers(ctx.miner);

interop('Specs and Allocate signed by the Python client; replies verified; info decrypted; the password opens SSH; released', async (ctx) => {
  const client = await startClient(ctx, [ctx.miner.url, ctx.miner.hotkeySs58, '--hold']);
  const specs = await client.line('specs');
  assert.equal(specs, { step: 'specs', code: 200, signature: 'verified', sections: ['cpu', 'docker', 'gpu', 'hard_disk', 'ram'], cpu_count: cpus().length });

  const allocated = await client.line('allocate');
  assert.is(allocated.code, 200);
  assert.is(allocated.signature, 'verified');
  assert.is(allocated.status, true);
  assert.equal(allocated.credential_keys, ['password', 'port', 'username', 'version']);
  assert.is(allocated.username, 'root');
  assert.is(allocated.port, ctx.miner.sshPort);
  assert.is(allocated.credential_port, ctx.miner.sshPort);
  // The decrypted password is the container's: it logs in from here.
  assert.is((await sshRun(ctx.miner.sshPort, { password: String(allocated.password) }, 'echo interop')).trim(), 'interop');
  const running = await runContainers(ctx);
  assert.is(running.length, 1);
  // `testing: true` made a test rental: a test container named and labelled for it.
  const [rental] = ctx.miner.manager.ledger.all();
  assert.is(rental?.role, 'test');
  assert.is(running[0]!.Id, rental!.workload!.container);
  assert.match(running[0]!.Names[0]!, new RegExp(`ssh-test-container-${rental!.id}$`));
  assert.is(running[0]!.Labels['compute-miner.role'], 'ssh-test-container');

  client.child.stdin.end('\n'); // let it de-allocate
  const released = await client.line('deallocate');
  assert.equal(released, { step: 'deallocate', code: 200, signature: 'verified', status: true });
  assert.is(await client.exited, 0, client.stderr());
  assert.is((await runContainers(ctx)).length, 0);
  assert.is(ctx.miner.manager.state().allocated, false);
});

interop('the Python client refuses a reply signed by another key than the miner it called', async (ctx) => {
  const client = await startClient(ctx, [ctx.impostor.url, ctx.impostor.hotkey.ss58Address, '--no-allocate']);
  assert.is(await client.exited, 3, client.stderr());
  assert.equal(client.received, [{ step: 'error', kind: 'signature', error: 'reply signature does not verify' }]);
});

interop('the Python client refuses a reply from a miner other than the one it addressed', async (ctx) => {
  const expected = generateHotkey().ss58Address;
  const client = await startClient(ctx, [ctx.miner.url, expected, '--no-allocate']);
  assert.is(await client.exited, 3, client.stderr());
  assert.equal(client.received, [{ step: 'error', kind: 'signature', error: `reply signed as ${ctx.miner.hotkeySs58}, expected ${expected}` }]);
});

interop.run();
