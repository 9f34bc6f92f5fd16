import { readFileSync, existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { threadsForStep, type Engine, type EngineSession, type OptimiserSettings, type SessionState } from '../engines/engine.ts';
import type { SparsePoints } from '../data/points.ts';
import type { Params } from '../model/toy-model.ts';

/**
 * The fast engine: the fused kernel of assembly/kernel.ts (WebAssembly SIMD, float32) on
 * `threads` threads (this one and threads - 1 workers) over one shared memory.
 *
 * Determinism: a batch of T points is cut into chunks that depend on T alone
 * (chunkCount(T)); each chunk's gradient is computed by one thread into its own buffer, and
 * the buffers are summed in chunk order. So the bits are the same for 1, 2 or 8 threads.
 */
export const KERNEL_WASM = fileURLToPath(new URL('./build/kernel.wasm', import.meta.url));
const WORKER = new URL('./worker.mjs', import.meta.url);
export const MAX_CHUNKS = 16;
const POINTS_PER_CHUNK = 8;
/** Polls of a shared flag before a thread sleeps on it: steps follow each other within microseconds. */
const SPIN = 20_000;
/** No step of any run takes this long on one chunk: a worker this late has stopped. */
const STALL_MS = 120_000;
const SCRATCH_PER_THREAD = 1024; // two points' slots of 512 bytes (see SLOT in the kernel)
const BASE = 65536; // below: the module's own static data

const align16 = (x: number) => Math.ceil(x / 16) * 16;

export const chunkCount = (T: number) => Math.max(1, Math.min(MAX_CHUNKS, Math.ceil(T / POINTS_PER_CHUNK)));
/** The first point of chunk c of `chunks` over T points (worker.mjs computes the same). */
const chunkStart = (c: number, T: number, chunks: number) => Math.floor((c * T) / chunks);

interface Kernel {
  chunkGradient(P: number, G: number, nPad: number, m: number, rowPtr: number, col: number, val: number, t0: number, t1: number, h: number, withLoss: boolean): number;
  reduceChunks(G0: number, stride: number, chunks: number, from: number, to: number, scale: number): void;
  adamw(P: number, G: number, M: number, V: number, from: number, to: number, lr: number, decay: number, b1: number, b2: number, c1: number, c2: number, eps: number): void;
}

export class KernelNotBuiltError extends Error {
  constructor() {
    super(`${KERNEL_WASM} is missing: build it with \`npm run build:kernel\` (the Nx build does it for you)`);
    this.name = 'KernelNotBuiltError';
  }
}

export async function createFastEngine(threads: number): Promise<Engine & { close(): Promise<void> }> {
  if (!existsSync(KERNEL_WASM)) throw new KernelNotBuiltError();
  const module = await WebAssembly.compile(readFileSync(KERNEL_WASM));
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory, abort() { throw new Error('kernel abort'); } } });
  const k = instance.exports as unknown as Kernel;
  const control = new SharedArrayBuffer(64 + 24 * 8);
  const sync = new Int32Array(control, 0, 16); // [generation, pending, command, failed]
  const args = new Float64Array(control, 64, 24);
  const workers: Worker[] = [];
  for (let i = 1; i < threads; i++) {
    const w = new Worker(WORKER, { workerData: { module, memory, control, index: i } });
    w.unref();
    workers.push(w);
  }
  let live = false;

  const engine = {
    name: 'fast',
    version: `2/wasm-simd-f32/chunks-${MAX_CHUNKS}x${POINTS_PER_CHUNK}`,
    threads,
    open(init: Params, opt: OptimiserSettings, resume?: SessionState): EngineSession {
      if (live) throw new Error('the fast engine runs one session at a time');
      live = true;
      const from = resume?.params ?? init;
      const { n, m } = from;
      const nPad = Math.ceil(n / 4) * 4;
      const size = (m + 1) * nPad; // floats in [W rows | b]
      const bytes = size * 4;
      // Layout: P, M, V, G (MAX_CHUNKS buffers), chunk losses, scratch, then the points.
      const P = BASE, M = P + bytes, V = M + bytes, G = V + bytes, stride = bytes;
      const lossPtr = G + stride * MAX_CHUNKS;
      const scratch = lossPtr + MAX_CHUNKS * 8;
      const pointsBase = scratch + SCRATCH_PER_THREAD * Math.max(threads, 1);
      ensure(pointsBase);
      const f32 = () => new Float32Array(memory.buffer);
      // params in: feature-major float64 -> row-major float32, padded
      const put = (ptr: number, W: Float64Array, b: Float64Array) => {
        const a = f32();
        a.fill(0, ptr / 4, ptr / 4 + size);
        for (let i = 0; i < n; i++) {
          for (let c = 0; c < m; c++) a[ptr / 4 + c * nPad + i] = W[i * m + c];
          a[ptr / 4 + m * nPad + i] = b[i];
        }
      };
      const get = (ptr: number): { W: Float64Array; b: Float64Array } => {
        const a = f32();
        const W = new Float64Array(n * m), b = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          for (let c = 0; c < m; c++) W[i * m + c] = a[ptr / 4 + c * nPad + i];
          b[i] = a[ptr / 4 + m * nPad + i];
        }
        return { W, b };
      };
      const flatIn = (ptr: number, flat: Float64Array) => put(ptr, flat.subarray(0, n * m), flat.subarray(n * m));
      const flatOut = (ptr: number) => {
        const { W, b } = get(ptr);
        const out = new Float64Array(n * m + n);
        out.set(W);
        out.set(b, n * m);
        return out;
      };
      put(P, from.W, from.b);
      let t = 0, beta1Power = 1, beta2Power = 1;
      if (resume) {
        flatIn(M, resume.m);
        flatIn(V, resume.v);
        t = resume.t;
        beta1Power = resume.beta1Power;
        beta2Power = resume.beta2Power;
      } else {
        f32().fill(0, M / 4, M / 4 + 2 * size);
      }

      let loaded: SparsePoints | null = null;
      let rowPtr = 0, col = 0, val = 0;
      const load = (batch: SparsePoints) => {
        if (batch === loaded) return;
        if (batch.n !== n) throw new Error(`batch has ${batch.n} features, the model ${n}`);
        rowPtr = pointsBase;
        col = align16(rowPtr + (batch.count + 1) * 4);
        val = align16(col + batch.col.length * 4);
        ensure(val + batch.val.length * 4);
        new Uint32Array(memory.buffer, rowPtr, batch.count + 1).set(batch.rowPtr);
        new Uint32Array(memory.buffer, col, batch.col.length).set(batch.col);
        new Float32Array(memory.buffer, val, batch.val.length).set(batch.val);
        loaded = batch;
      };

      const gradient = (T: number, withLoss: boolean): number => {
        const chunks = chunkCount(T);
        const scale = 2 / T;
        const used = Math.min(threadsForStep(threads, T * n), chunks);
        const losses = () => new Float64Array(memory.buffer, lossPtr, chunks);
        if (used > 1) {
          args.set([used, chunks, T, P, G, stride, nPad, m, rowPtr, col, val, scratch, lossPtr, withLoss ? 1 : 0]);
          Atomics.store(sync, 1, used - 1);
          Atomics.store(sync, 2, 1);
          Atomics.add(sync, 0, 1);
          Atomics.notify(sync, 0);
        }
        const l = losses();
        for (let c = 0; c < chunks; c += used) {
          l[c] = k.chunkGradient(P, G + stride * c, nPad, m, rowPtr, col, val, chunkStart(c, T, chunks), chunkStart(c + 1, T, chunks), scratch, withLoss);
        }
        if (used > 1) {
          // Spin briefly (the others are usually about done), then sleep.
          for (let i = 0; i < SPIN && Atomics.load(sync, 1) !== 0; i++);
          // Sleep in short slices, so that nothing can leave this thread asleep for good.
          const since = performance.now();
          for (let p = Atomics.load(sync, 1); p !== 0; p = Atomics.load(sync, 1)) {
            Atomics.wait(sync, 1, p, 10);
            if (performance.now() - since > STALL_MS) throw new Error(`fast engine: a worker thread did not answer for ${STALL_MS / 1000} s`);
          }
          if (Atomics.load(sync, 3) !== 0) throw new Error('a fast-engine worker thread failed (its error is printed above)');
        }
        k.reduceChunks(G, stride, chunks, 0, size, scale);
        let total = 0;
        const l2 = losses();
        for (let c = 0; c < chunks; c++) total += l2[c];
        return withLoss ? total / T : NaN;
      };

      const session: EngineSession = {
        step(batch: SparsePoints, lr: number, withLoss = true): number {
          load(batch);
          const loss = gradient(batch.count, withLoss);
          t += 1;
          beta1Power *= opt.beta1;
          beta2Power *= opt.beta2;
          const c1 = 1 - beta1Power, c2 = 1 - beta2Power;
          k.adamw(P, G, M, V, 0, m * nPad, lr, 1 - lr * opt.weightDecay, opt.beta1, opt.beta2, c1, c2, opt.eps);
          k.adamw(P + m * nPad * 4, G + m * nPad * 4, M + m * nPad * 4, V + m * nPad * 4, 0, nPad, lr, opt.decayBias ? 1 - lr * opt.weightDecay : 1, opt.beta1, opt.beta2, c1, c2, opt.eps);
          return loss;
        },
        gradient(batch: SparsePoints) {
          load(batch);
          const loss = gradient(batch.count, true);
          return { loss, grad: { n, m, ...get(G) } };
        },
        params: () => ({ n, m, ...get(P) }),
        state: () => ({ params: { n, m, ...get(P) }, m: flatOut(M), v: flatOut(V), t, beta1Power, beta2Power }),
        dispose() {
          live = false;
        },
      };
      return session;
    },
    async close() {
      Atomics.store(sync, 2, 0);
      Atomics.add(sync, 0, 1);
      Atomics.notify(sync, 0);
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
  function ensure(end: number) {
    const need = Math.ceil(end / 65536) - memory.buffer.byteLength / 65536;
    if (need > 0) memory.grow(need);
  }
  return engine;
}

export const createEngine = (workers: number): Promise<Engine> => createFastEngine(workers);
