// A miner killed with -9 leaves its hashcat running; the next start must stop it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killStrays } from '../src/challenge/hashcat.js';

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('processes working in the state folder are killed, others are left alone', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'challenge-strays-'));
  const elsewhere = await mkdtemp(join(tmpdir(), 'challenge-strays-other-'));
  const stray = spawn('sleep', ['600'], { cwd: stateDir, detached: true, stdio: 'ignore' });
  const bystander = spawn('sleep', ['600'], { cwd: elsewhere, detached: true, stdio: 'ignore' });
  try {
    assert.ok(alive(stray.pid!) && alive(bystander.pid!));
    const strayGone = new Promise((r) => stray.once('exit', r));
    await killStrays(stateDir);
    await strayGone;
    assert.not.ok(alive(stray.pid!), 'the stray in the state folder is gone');
    assert.ok(alive(bystander.pid!), 'a process elsewhere is untouched');
  } finally {
    for (const child of [stray, bystander]) { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }
    await rm(stateDir, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  }
});

test.run();
