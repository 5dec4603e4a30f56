// The bounded priority queue in front of the handlers. Order: synapse rank (Allocate >
// Challenge > Specs), then the caller's stake, then the plugin's priority(), then arrival.
// A job starts when both a global slot (maxRunning) and a slot of its synapse (the plugin's
// concurrency) are free; its slots stay taken until its handler settles.
import type { SynapseName } from '../../protocol/index.js';

export const SYNAPSE_RANK: Record<SynapseName, number> = { Allocate: 3, Challenge: 2, Specs: 1 };

export interface Job {
  readonly synapse: SynapseName;
  readonly stake: number;
  readonly priority: number;
  /** Starts the work; the returned promise settles when the handler is done. */
  run(): Promise<unknown>;
}

/** A queued job; also the handle the submitter keeps to cancel it. */
class Entry implements Ticket {
  index = -1; // position in its heap, -1 once out

  constructor(readonly job: Job, readonly seq: number, private readonly heap: Heap, private readonly queue: PriorityQueue) {}

  cancel(): boolean {
    if (!this.heap.remove(this)) return false;
    this.queue.dequeued();
    return true;
  }
}

function before(a: Entry, b: Entry): boolean {
  if (a.job.stake !== b.job.stake) return a.job.stake > b.job.stake;
  if (a.job.priority !== b.job.priority) return a.job.priority > b.job.priority;
  return a.seq < b.seq;
}

/** A binary heap with removal by handle (a queued request whose deadline passes leaves at once). */
class Heap {
  private readonly items: Entry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Entry | undefined {
    return this.items[0];
  }

  push(entry: Entry): void {
    entry.index = this.items.length;
    this.items.push(entry);
    this.up(entry.index);
  }

  pop(): Entry | undefined {
    const top = this.items[0];
    if (top) this.remove(top);
    return top;
  }

  remove(entry: Entry): boolean {
    const i = entry.index;
    if (i < 0 || this.items[i] !== entry) return false;
    const last = this.items.pop()!;
    entry.index = -1;
    if (last !== entry) {
      this.items[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
    return true;
  }

  private up(i: number): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const items = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < items.length && before(items[l]!, items[best]!)) best = l;
      if (r < items.length && before(items[r]!, items[best]!)) best = r;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }

  private swap(a: number, b: number): void {
    const items = this.items;
    const x = items[a]!;
    items[a] = items[b]!;
    items[b] = x;
    x.index = b;
    items[a]!.index = a;
  }
}

/** A handle to a queued job: `cancel()` takes it out if it has not started. */
export interface Ticket {
  cancel(): boolean;
}

export class PriorityQueue {
  private readonly heaps = new Map<SynapseName, Heap>();
  private readonly runningBySynapse = new Map<SynapseName, number>();
  private readonly finishers = new Map<SynapseName, () => void>();
  private running = 0;
  private queued = 0;
  private seq = 0;

  constructor(
    private readonly maxQueued: number,
    private readonly maxRunning: number,
    private readonly concurrency: ReadonlyMap<SynapseName, number>,
  ) {
    // Highest rank first, so picking the next job is a scan of at most three heads.
    const names = [...concurrency.keys()].sort((a, b) => SYNAPSE_RANK[b] - SYNAPSE_RANK[a]);
    for (const name of names) {
      this.heaps.set(name, new Heap());
      this.runningBySynapse.set(name, 0);
      // One settle callback per synapse, made here rather than per job.
      this.finishers.set(name, () => {
        this.running--;
        this.runningBySynapse.set(name, this.runningBySynapse.get(name)! - 1);
        this.pump();
      });
    }
  }

  /** Jobs waiting for a slot. */
  get depth(): number {
    return this.queued;
  }

  get active(): number {
    return this.running;
  }

  /** Queues a job (it may start at once); null when the queue is full. */
  submit(job: Job): Ticket | null {
    const heap = this.heaps.get(job.synapse);
    if (!heap) throw new Error(`no synapse ${job.synapse} in the queue`);
    if (this.queued >= this.maxQueued && !this.canStart(job.synapse)) return null;
    const entry = new Entry(job, this.seq++, heap, this);
    heap.push(entry);
    this.queued++;
    this.pump();
    return entry;
  }

  /** Called by an entry that left the queue without starting. */
  dequeued(): void {
    this.queued--;
  }

  private canStart(synapse: SynapseName): boolean {
    return this.running < this.maxRunning && this.runningBySynapse.get(synapse)! < this.concurrency.get(synapse)!;
  }

  private pump(): void {
    while (this.running < this.maxRunning) {
      let nextName: SynapseName | undefined;
      let nextHeap: Heap | undefined;
      for (const [name, heap] of this.heaps) {
        if (heap.size > 0 && this.runningBySynapse.get(name)! < this.concurrency.get(name)!) {
          nextName = name;
          nextHeap = heap;
          break;
        }
      }
      if (!nextHeap) return;
      const entry = nextHeap.pop()!;
      this.queued--;
      this.start(nextName!, entry.job);
    }
  }

  private start(name: SynapseName, job: Job): void {
    this.running++;
    this.runningBySynapse.set(name, this.runningBySynapse.get(name)! + 1);
    const done = this.finishers.get(name)!;
    let work: Promise<unknown>;
    try {
      work = job.run();
    } catch (err) {
      work = Promise.reject(err);
    }
    work.then(done, done);
  }
}
