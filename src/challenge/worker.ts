// A search thread of the built-in solver: takes chunks of the keyspace from a shared counter
// until the keyspace ends, another thread finds the answer, or the solve is cancelled.
import { parentPort } from 'node:worker_threads';
import { createKernel } from './blake2b-wasm.js';
import { RangeSearch } from './search.js';
import { CONTROL, type WorkerJob, type WorkerResult } from './pool-messages.js';

const port = parentPort!;
const kernel = createKernel();

port.on('message', (msg: WorkerJob) => {
  const control = new Int32Array(msg.control);
  const search = new RangeSearch(msg.job, kernel);
  let found = -1;
  let hashed = 0;
  while (Atomics.load(control, CONTROL.stop) === 0) {
    const chunk = Atomics.add(control, CONTROL.nextChunk, 1);
    const from = chunk * msg.chunkSize;
    if (chunk < 0 || from >= msg.total) break;
    const to = Math.min(msg.total, from + msg.chunkSize);
    const hit = search.run(from, to);
    if (hit >= 0) {
      found = hit;
      hashed += hit - from + 1;
      Atomics.store(control, CONTROL.stop, 1);
      break;
    }
    hashed += to - from;
  }
  const result: WorkerResult = { id: msg.id, found, hashed };
  port.postMessage(result);
});
