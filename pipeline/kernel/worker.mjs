// A worker thread of the fast engine: waits for a step, computes its share of the chunks'
// gradients into shared memory, reports done. Which thread computes a chunk never changes
// the chunk's result, and the chunks are summed in chunk order by the main thread, so the
// outcome is the same for any number of threads.
import { workerData } from 'node:worker_threads';

const { module, memory, control, index } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('kernel abort'); } } });
const { chunkGradient } = instance.exports;
const sync = new Int32Array(control, 0, 16); // [generation, pending, command, failed]
const args = new Float64Array(control, 64, 24);

const SPIN = 200_000; // polls before sleeping: the next step usually starts within microseconds
let seen = 0;
for (;;) {
  for (let i = 0; i < SPIN && Atomics.load(sync, 0) === seen; i++);
  while (Atomics.load(sync, 0) === seen) Atomics.wait(sync, 0, seen, 10); // short slices: never asleep for good
  seen = Atomics.load(sync, 0);
  if (Atomics.load(sync, 2) === 0) break;
  try {
    const [threads, chunks, T, P, G, stride, nPad, m, rowPtr, col, val, scratch, lossPtr, withLoss] = args;
    const losses = new Float64Array(memory.buffer, lossPtr, chunks);
    for (let c = index; c < chunks; c += threads) {
      const t0 = Math.floor((c * T) / chunks);
      const t1 = Math.floor(((c + 1) * T) / chunks);
      losses[c] = chunkGradient(P, G + stride * c, nPad, m, rowPtr, col, val, t0, t1, scratch + index * 1024, withLoss === 1);
    }
  } catch (e) {
    // The main thread is blocked waiting for us: tell it, rather than die silently.
    Atomics.store(sync, 3, 1);
    process.stderr.write(`fast engine worker ${index}: ${e && e.stack ? e.stack : e}\n`);
  }
  if (Atomics.sub(sync, 1, 1) === 1) Atomics.notify(sync, 1);
}
