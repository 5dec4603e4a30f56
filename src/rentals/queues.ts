// One queue per rental (its operations in arrival order) and one per host (its reconcile), as a
// node agent keeps a worker per workload: rentals' work runs side by side, a rental's own in order.
import { serializer } from '../serial.js';

export function rentalQueues() {
  const queues = new Map<string, { run: ReturnType<typeof serializer>; pending: number }>();
  function enqueue<T>(key: string, task: () => Promise<T>): Promise<T> {
    let queue = queues.get(key);
    if (!queue) {
      queue = { run: serializer(), pending: 0 };
      queues.set(key, queue);
    }
    const q = queue;
    q.pending += 1;
    return q.run(task).finally(() => {
      q.pending -= 1;
      // A queue with nothing waiting is forgotten: rentals come and go.
      if (q.pending === 0 && queues.get(key) === q) queues.delete(key);
    });
  }
  return {
    rental: <T>(id: string, task: () => Promise<T>) => enqueue(`rental:${id}`, task),
    host: <T>(name: string, task: () => Promise<T>) => enqueue(`host:${name}`, task),
    /** Queues that have work now (for tests and /health). */
    size: () => queues.size,
  };
}
