// A worker thread of the fast engine (started by thread-pool.ts): waits to be woken, then takes
// chunks of the step from the run's context (assembly/kernel.ts claimChunks) until none is left.
// The slot names, the context's address and this thread's index all come in workerData: this
// file computes no bound or offset. Which thread computes a chunk never changes the chunk's
// result, and the main thread sums the chunks in chunk order, so the outcome is the same for
// any number of threads.
import { workerData } from 'node:worker_threads';

const { module, memory, index, sync, slot, command, ctx, field } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('kernel abort'); } } });
const { claimChunks, runUnit } = instance.exports;
const words = new Int32Array(memory.buffer, ctx, 64); // the context's words (it lies below any growth)
const done = field.done >> 2, chunks = field.chunks >> 2;

/** thread-pool.ts takeWork: the step's work, waiting here (not in the kernel) for the chunks a unit needs. */
function takeWork() {
  for (let u = claimChunks(ctx, index); u >= 0; u = claimChunks(ctx, index)) {
    for (let d = Atomics.load(words, done); d < Atomics.load(words, chunks); d = Atomics.load(words, done)) Atomics.wait(words, done, d, 1);
    runUnit(ctx, u);
  }
}
const wake = slot.wake + index; // bumped by the main thread for each step this thread takes part in

// Polls before sleeping: the next step usually starts within microseconds. A step never waits
// for a thread that sleeps (the others take its chunks), so this need not cover long gaps.
const SPIN = 100_000;
let seen = 0; // the word's initial value: a step started before this thread did still runs
for (;;) {
  for (let i = 0; i < SPIN && Atomics.load(sync, wake) === seen; i++);
  while (Atomics.load(sync, wake) === seen) Atomics.wait(sync, wake, seen, 10); // short slices: never asleep for good
  seen = Atomics.load(sync, wake);
  if (Atomics.load(sync, slot.command) === command.exit) break;
  try {
    takeWork();
  } catch (e) {
    // The main thread is waiting for the chunk: tell it, rather than die silently.
    Atomics.store(sync, slot.failed, 1);
    process.stderr.write(`fast engine worker ${index}: ${e && e.stack ? e.stack : e}\n`);
  }
}
