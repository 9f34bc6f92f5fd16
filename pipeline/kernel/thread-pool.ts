import { Worker } from 'node:worker_threads';
import { CTX, CTX_FIELD, NO_CLAIMS } from './session-memory.ts';

const WORKER = new URL('./worker.mjs', import.meta.url);

/**
 * Slots of `sync`: whether a worker failed, the command, and one wake word per thread (thread
 * i's at wake + i), bumped to start that thread on a step. Only the threads a step uses are
 * woken: a step may use fewer than there are.
 */
const SLOT = { failed: 0, command: 1, wake: 2 } as const;
const COMMAND = { exit: 0, run: 1 } as const;
/** Polls of the count of finished work before the main thread sleeps on it: the last chunks are usually about done. */
const SPIN = 20_000;
/** No step of any run takes this long on one chunk: a worker this late has stopped. */
const STALL_MS = 120_000;

/** The kernel's exports that take a step's work (assembly/kernel.ts). */
export interface WorkKernel {
  claimChunks(ctx: number, thread: number): number;
  runUnit(ctx: number, u: number): void;
}

/**
 * Takes work of the open step on thread `thread` until none is left: the kernel's claimChunks,
 * and for a unit of the update it hands back (its chunks not yet all done), a wait here on the
 * count of chunks done, then the unit. worker.mjs runs the same loop (keep the two alike).
 */
export function takeWork(kernel: WorkKernel, words: Int32Array, thread: number): void {
  const done = CTX_FIELD.done >> 2, chunks = CTX_FIELD.chunks >> 2;
  for (let u = kernel.claimChunks(CTX, thread); u >= 0; u = kernel.claimChunks(CTX, thread)) {
    for (let d = Atomics.load(words, done); d < Atomics.load(words, chunks); d = Atomics.load(words, done)) Atomics.wait(words, done, d, 1);
    kernel.runUnit(CTX, u);
  }
}

/**
 * The fast engine's threads: this one (thread 0) and `threads - 1` workers (worker.mjs) over one
 * shared memory. A step's chunks are taken one at a time from a counter in the run's context
 * (assembly/kernel.ts claimChunks) by every thread the step uses: which thread computes a chunk
 * never changes its bits (each chunk has its own gradient buffers, summed in chunk order), and
 * a thread that is late (descheduled, asleep) leaves its share to the others rather than holding
 * the step up.
 *
 * The workers get all they read from here, in workerData: the shared words and the names of
 * the slots of `sync`, and the context's address. worker.mjs computes no chunk bound or offset.
 */
export class ThreadPool {
  private readonly sync: Int32Array;
  private readonly workers: Worker[] = [];

  constructor(module: WebAssembly.Module, private readonly memory: WebAssembly.Memory, private readonly kernel: WorkKernel, readonly threads: number) {
    this.sync = new Int32Array(new SharedArrayBuffer((SLOT.wake + threads) * 4));
    const { sync } = this;
    Atomics.store(sync, SLOT.command, COMMAND.run);
    for (let index = 1; index < threads; index++) {
      const w = new Worker(WORKER, { workerData: { module, memory, index, sync, slot: SLOT, command: COMMAND, ctx: CTX, field: { done: CTX_FIELD.done, chunks: CTX_FIELD.chunks } } });
      // A worker that fails to start (or dies) is marked failed: the main thread stops waiting for it.
      w.on('error', (e) => {
        Atomics.store(sync, SLOT.failed, 1);
        process.stderr.write(`fast engine worker ${index}: ${e && e.stack ? e.stack : e}\n`);
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /**
   * Runs the pass the context describes (its `chunks` chunks, then its `units` units of the
   * update) on threads 0..threads-1: wakes the others, runs `meanwhile` here (work of the
   * host's own, such as drawing the next batch), then takes work here too until none is left,
   * and returns when all is done.
   */
  run(threads: number, chunks: number, units: number, meanwhile?: () => void): void {
    const words = new Int32Array(this.memory.buffer, CTX, 64);
    const next = CTX_FIELD.next >> 2;
    Atomics.store(words, CTX_FIELD.done >> 2, 0);
    Atomics.store(words, CTX_FIELD.unitsDone >> 2, 0);
    Atomics.store(words, next, 0); // opens the step to the workers
    for (let i = 1; i < threads; i++) this.wake(i);
    try {
      meanwhile?.();
    } finally {
      takeWork(this.kernel, words, 0);
      if (units > 0) this.awaitCount(words, CTX_FIELD.unitsDone >> 2, units);
      else this.awaitCount(words, CTX_FIELD.done >> 2, chunks);
      Atomics.store(words, next, NO_CLAIMS); // a worker woken late takes nothing
    }
  }

  /** Stops the workers; the pool is not used after. */
  async close(): Promise<void> {
    Atomics.store(this.sync, SLOT.command, COMMAND.exit);
    for (let i = 1; i < this.threads; i++) this.wake(i);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private wake(thread: number): void {
    Atomics.add(this.sync, SLOT.wake + thread, 1);
    Atomics.notify(this.sync, SLOT.wake + thread);
  }

  /** Waits for words[done] to reach `count`. */
  private awaitCount(words: Int32Array, done: number, count: number): void {
    const chunks = count;
    for (let i = 0; i < SPIN && Atomics.load(words, done) !== chunks; i++);
    // Sleep in short slices, so that nothing can leave this thread asleep for good.
    const since = performance.now();
    for (let d = Atomics.load(words, done); d !== chunks; d = Atomics.load(words, done)) {
      if (Atomics.load(this.sync, SLOT.failed) !== 0) throw new Error('a fast-engine worker thread failed (its error is printed above)');
      Atomics.wait(words, done, d, 10);
      if (performance.now() - since > STALL_MS) throw new Error(`fast engine: a worker thread did not answer for ${STALL_MS / 1000} s`);
    }
  }
}
