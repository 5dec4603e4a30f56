// An OOM kill inside a real rental reaches the people it concerns: the rental's events (status
// page, /status.json) name it, and the renter finds the notice in the rental and a message in
// the sessions logged in.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { NOTICES_PATH } from '../src/rentals/events.js';
import { renterKeys, sshRun, startManagerRun, stopManagerRun, type ManagerRun } from './helpers/docker.js';
import { until } from './helpers/wait.js';

const MiB = 1024 ** 2;
const events = suite<ManagerRun>('rental events on Docker');

events.before(async (ctx) => {
  Object.assign(ctx, await startManagerRun('events', { warm: 0 }));
  ctx.manager.notices.start();
});

events.after((ctx) => stopManagerRun(ctx));

events('a process killed at the memory limit is named on the rental and told to the renter', async (ctx) => {
  const holder = renterKeys();
  const r = await ctx.manager.allocate({
    timelineDays: 1, publicKeyPem: holder.publicKeyPem, sshKey: '', dockerfile: '',
    device: { cpu: { count: 1 }, ram: { capacity: 256 * MiB }, hard_disk: { capacity: 512 * MiB }, gpu: {}, testing: false },
  });
  assert.ok(r.status, r.status ? '' : r.error);
  if (!r.status) return;
  try {
    // 1.6 × the limit, in one process the kernel kills; bounded in time by the SSH helper's timeout.
    const out = await sshRun(r.port, { password: r.credentials.password },
      `python3 -c "b = bytearray(${Math.round(1.6 * 256)} * 1024 * 1024); print('survived')" ; echo "exit $?"`);
    assert.match(out, /exit 137/);
    const view = await until('the OOM event on the rental', async () => (await ctx.manager.rentals()).find((v) => v.events.some((e) => e.kind === 'oom')), 20_000, 200);
    assert.match(view.events.find((e) => e.kind === 'oom')!.text, /out-of-memory killer: the rental reached 256 MiB memory limit/);
    const notice = await until('the notice in the rental', async () => {
      const text = await sshRun(r.port, { password: r.credentials.password }, `cat ${NOTICES_PATH} 2>/dev/null || true`);
      return /out-of-memory/.test(text) ? text : undefined;
    }, 20_000, 500);
    assert.match(notice, /the rental reached 256 MiB memory limit/);
    assert.equal(await ctx.manager.checkHolder(holder.publicKeyPem), { status: true }, 'the rental itself lives on');
  } finally {
    await ctx.manager.deallocate(holder.publicKeyPem);
  }
});

events.run();
