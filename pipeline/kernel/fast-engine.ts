import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { threadsForStep, type OptimiserSettings, type SessionState } from '../engines/engine.ts';
import { stepwiseEngine, type StepEngine, type StepSession } from '../engines/stepwise.ts';
import type { SparsePoints } from '../data/points.ts';
import type { Params } from '../model/toy-model.ts';
import { SessionMemory } from './session-memory.ts';
import { ThreadPool, type ChunkCall } from './thread-pool.ts';
import { UserError } from '../errors.ts';

/**
 * The fast engine: the fused kernel of assembly/kernel.ts (WebAssembly SIMD, float32) on
 * `threads` threads (this one and threads - 1 workers, thread-pool.ts) over one shared memory
 * (session-memory.ts).
 *
 * Determinism: a batch of T points is cut into chunks that depend on T alone
 * (chunkCount(T)); each chunk's gradient is computed by one thread into its own buffer, and
 * the buffers are summed in chunk order. So the bits are the same for 1, 2 or 8 threads.
 */
export const KERNEL_WASM = fileURLToPath(new URL('./build/kernel.wasm', import.meta.url));
const MAX_CHUNKS = 16;
const POINTS_PER_CHUNK = 8;

export const chunkCount = (T: number) => Math.max(1, Math.min(MAX_CHUNKS, Math.ceil(T / POINTS_PER_CHUNK)));
/** The first point of chunk c of `chunks` over T points. */
const chunkStart = (c: number, T: number, chunks: number) => Math.floor((c * T) / chunks);

/** The kernel's exports (assembly/kernel.ts). */
interface Kernel {
  chunkGradient(...call: ChunkCall): number;
  scratchBytes(m: number): number;
  reduceChunks(G0: number, stride: number, chunks: number, from: number, to: number, scale: number): void;
  adamw(P: number, G: number, M: number, V: number, from: number, to: number, lr: number, decay: number, b1: number, b2: number, c1: number, c2: number, eps: number): void;
}

class KernelNotBuiltError extends UserError {
  constructor() {
    super(`${KERNEL_WASM} is missing: build it with \`npm run build:kernel\` (the Nx build does it for you)`);
    this.name = 'KernelNotBuiltError';
  }
}

export async function createFastEngine(threads: number): Promise<StepEngine & { close(): Promise<void> }> {
  if (!existsSync(KERNEL_WASM)) throw new KernelNotBuiltError();
  const module = await WebAssembly.compile(readFileSync(KERNEL_WASM));
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory, abort() { throw new Error('kernel abort'); } } });
  const kernel = instance.exports as unknown as Kernel;
  const pool = new ThreadPool(module, memory, kernel.chunkGradient, threads, MAX_CHUNKS);
  let live = false;
  const close = () => pool.close();
  const engine = stepwiseEngine({
    name: 'fast',
    version: `2/wasm-simd-f32/chunks-${MAX_CHUNKS}x${POINTS_PER_CHUNK}`,
    oneAtATime: true, // one kernel memory: a run's inits take turns in it
    openStep(init: Params, opt: OptimiserSettings, resume?: SessionState): StepSession {
      if (live) throw new Error('the fast engine runs one session at a time');
      live = true;
      const from = resume?.params ?? init;
      const mem = new SessionMemory(memory, from.n, from.m, MAX_CHUNKS, threads, kernel.scratchBytes(from.m));
      return openSession(kernel, pool, mem, opt, from, resume, () => {
        live = false;
      });
    },
    close,
  });
  return { ...engine, close };
}

export const createEngine = (workers: number): Promise<StepEngine> => createFastEngine(workers);

/**
 * One training run's parameters and optimiser state in the kernel's memory. (A plain object,
 * as every engine's session is: callers may copy its methods with a spread.)
 */
function openSession(kernel: Kernel, pool: ThreadPool, mem: SessionMemory, opt: OptimiserSettings, from: Params, resume: SessionState | undefined, release: () => void): StepSession {
  mem.write(mem.P, from.W, from.b);
  let { t, beta1Power, beta2Power } = resume ?? { t: 0, beta1Power: 1, beta2Power: 1 };
  if (resume) {
    mem.writeFlat(mem.M, resume.m);
    mem.writeFlat(mem.V, resume.v);
  } else {
    mem.zero(mem.M);
    mem.zero(mem.V);
  }
  const paramsAt = (ptr: number): Params => ({ n: mem.n, m: mem.m, ...mem.read(ptr) });
  return {
    step(batch: SparsePoints, lr: number, withLoss = true): number {
      const loss = gradient(kernel, pool, mem, batch, withLoss);
      t += 1;
      beta1Power *= opt.beta1;
      beta2Power *= opt.beta2;
      const c1 = 1 - beta1Power, c2 = 1 - beta2Power;
      const decay = 1 - lr * opt.weightDecay;
      const bias = mem.m * mem.nPad; // b's first float
      kernel.adamw(mem.P, mem.G, mem.M, mem.V, 0, bias, lr, decay, opt.beta1, opt.beta2, c1, c2, opt.eps);
      kernel.adamw(mem.P, mem.G, mem.M, mem.V, bias, mem.floats, lr, opt.decayBias ? decay : 1, opt.beta1, opt.beta2, c1, c2, opt.eps);
      return loss;
    },
    gradient(batch: SparsePoints) {
      const loss = gradient(kernel, pool, mem, batch, true);
      return { loss, grad: paramsAt(mem.G) };
    },
    params: () => paramsAt(mem.P),
    state: () => ({ params: paramsAt(mem.P), m: mem.readFlat(mem.M), v: mem.readFlat(mem.V), t, beta1Power, beta2Power }),
    dispose: release,
  };
}

/**
 * Loss on `batch` (NaN when not `withLoss`) at the parameters P, and the gradient into G.
 * Chunk c runs on thread c mod threads, in that thread's scratch: which thread runs a chunk
 * never changes its bits.
 */
function gradient(kernel: Kernel, pool: ThreadPool, mem: SessionMemory, batch: SparsePoints, withLoss: boolean): number {
  const { rowPtr, col, val } = mem.load(batch);
  const T = batch.count;
  const chunks = chunkCount(T);
  const threads = Math.min(threadsForStep(pool.threads, T * mem.n), chunks);
  for (let c = 0; c < chunks; c++) {
    const thread = c % threads;
    const t0 = chunkStart(c, T, chunks), t1 = chunkStart(c + 1, T, chunks);
    pool.assign(c, thread, [mem.P, mem.grad(c), mem.nPad, mem.m, rowPtr, col, val, t0, t1, mem.scratchOf(thread), withLoss ? 1 : 0]);
  }
  const losses = pool.run(threads, chunks);
  kernel.reduceChunks(mem.G, mem.bytes, chunks, 0, mem.floats, 2 / T);
  if (!withLoss) return NaN;
  let total = 0;
  for (let c = 0; c < chunks; c++) total += losses[c];
  return total / T;
}
