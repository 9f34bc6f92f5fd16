// A worker thread of the fast engine (started by thread-pool.ts): waits to be woken, runs the
// kernel calls the main thread assigned to it, reports done. The call table, the slot names
// and this thread's index all come in workerData: this file computes no bound or offset.
// Which thread computes a chunk never changes the chunk's result, and the main thread sums
// the chunks in chunk order, so the outcome is the same for any number of threads.
import { workerData } from 'node:worker_threads';

const { module, memory, index, sync, slot, command, calls, arity, owner, losses } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('kernel abort'); } } });
const { chunkGradient } = instance.exports;
const wake = slot.wake + index; // bumped by the main thread for each step this thread takes part in

const SPIN = 200_000; // polls before sleeping: the next step usually starts within microseconds
let seen = 0; // the word's initial value: a step planned before this thread started still runs
for (;;) {
  for (let i = 0; i < SPIN && Atomics.load(sync, wake) === seen; i++);
  while (Atomics.load(sync, wake) === seen) Atomics.wait(sync, wake, seen, 10); // short slices: never asleep for good
  seen = Atomics.load(sync, wake);
  if (Atomics.load(sync, slot.command) === command.exit) break;
  try {
    for (let c = 0; c < owner.length; c++) {
      if (owner[c] === index) losses[c] = chunkGradient(...calls.subarray(c * arity, (c + 1) * arity));
    }
  } catch (e) {
    // The main thread is blocked waiting for us: tell it, rather than die silently.
    Atomics.store(sync, slot.failed, 1);
    process.stderr.write(`fast engine worker ${index}: ${e && e.stack ? e.stack : e}\n`);
  }
  if (Atomics.sub(sync, slot.pending, 1) === 1) Atomics.notify(sync, slot.pending);
}
