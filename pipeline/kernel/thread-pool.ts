import { Worker } from 'node:worker_threads';

const WORKER = new URL('./worker.mjs', import.meta.url);

/**
 * Slots of `sync`: workers still busy with the step, whether one failed, the command, and one
 * wake word per thread (thread i's at wake + i), bumped to start that thread on a step. Only
 * the threads a step uses are woken: a step may use fewer than there are.
 */
const SLOT = { pending: 0, failed: 1, command: 2, wake: 3 } as const;
const COMMAND = { exit: 0, run: 1 } as const;
/** Polls of `pending` before the main thread sleeps on it: the workers are usually about done. */
const SPIN = 20_000;
/** No step of any run takes this long on one chunk: a worker this late has stopped. */
const STALL_MS = 120_000;

/** A call of the kernel's chunkGradient, its arguments in its order (withLoss as 1 or 0). */
export type ChunkCall = [P: number, G: number, nPad: number, m: number, rowPtr: number, col: number, val: number, t0: number, t1: number, h: number, withLoss: number];
const ARITY: ChunkCall['length'] = 11; // checked against ChunkCall by the compiler

const shared = <T>(Type: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, length: number) =>
  new Type(new SharedArrayBuffer(length * Type.BYTES_PER_ELEMENT));

/**
 * The fast engine's threads: this one (thread 0) and `threads - 1` workers (worker.mjs) over one
 * shared memory. A step is a plan: one kernel call per chunk, each assigned to a thread. `run`
 * wakes the threads the step uses, runs thread 0's share here and waits for the others.
 *
 * The workers get all they read from here, in workerData: the shared arrays and the names of
 * the slots of `sync`. worker.mjs computes no chunk bound, offset or slot index.
 */
export class ThreadPool {
  private readonly sync: Int32Array;
  private readonly plan: ChunkCall[] = []; // chunk c's call
  private readonly calls: Float64Array; // the workers' copy of the plan: chunk c's call at c * ARITY
  private readonly owner: Int32Array; // the thread that runs chunk c; -1: no such chunk this step
  private readonly losses: Float64Array; // what chunk c's call returned
  private readonly workers: Worker[] = [];

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, private readonly chunkGradient: (...call: ChunkCall) => number, readonly threads: number, maxChunks: number) {
    this.sync = shared(Int32Array, SLOT.wake + threads);
    this.calls = shared(Float64Array, maxChunks * ARITY);
    this.owner = shared(Int32Array, maxChunks);
    this.losses = shared(Float64Array, maxChunks);
    const { sync, calls, owner, losses } = this;
    for (let index = 1; index < threads; index++) {
      const w = new Worker(WORKER, { workerData: { module, memory, index, sync, slot: SLOT, command: COMMAND, calls, arity: ARITY, owner, losses } });
      w.unref();
      this.workers.push(w);
    }
  }

  /** Plans chunk c of the next step: `call`, run by `thread`. */
  assign(c: number, thread: number, call: ChunkCall): void {
    this.owner[c] = thread;
    this.plan[c] = call;
  }

  /** Runs the planned chunks 0..chunks-1 on threads 0..threads-1; returns what each returned. */
  run(threads: number, chunks: number): Float64Array {
    this.owner.fill(-1, chunks);
    const others = threads - 1;
    if (others > 0) {
      for (let c = 0; c < chunks; c++) if (this.owner[c] !== 0) this.calls.set(this.plan[c], c * ARITY);
      Atomics.store(this.sync, SLOT.pending, others);
      Atomics.store(this.sync, SLOT.command, COMMAND.run);
      for (let i = 1; i < threads; i++) this.wake(i);
    }
    // Thread 0's share (worker.mjs runs the others' from `calls`).
    for (let c = 0; c < chunks; c++) if (this.owner[c] === 0) this.losses[c] = this.chunkGradient(...this.plan[c]);
    if (others > 0) this.awaitOthers();
    return this.losses.subarray(0, chunks);
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

  private awaitOthers(): void {
    const { sync } = this;
    for (let i = 0; i < SPIN && Atomics.load(sync, SLOT.pending) !== 0; i++);
    // Sleep in short slices, so that nothing can leave this thread asleep for good.
    const since = performance.now();
    for (let p = Atomics.load(sync, SLOT.pending); p !== 0; p = Atomics.load(sync, SLOT.pending)) {
      Atomics.wait(sync, SLOT.pending, p, 10);
      if (performance.now() - since > STALL_MS) throw new Error(`fast engine: a worker thread did not answer for ${STALL_MS / 1000} s`);
    }
    if (Atomics.load(sync, SLOT.failed) !== 0) throw new Error('a fast-engine worker thread failed (its error is printed above)');
  }
}
