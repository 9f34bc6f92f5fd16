import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs';
import type { OptimiserSettings, SessionState } from './engine.ts';
import { stepwiseEngine, type StepEngine, type StepSession } from './stepwise.ts';
import type { SparsePoints } from '../data/points.ts';
import type { Params } from '../model/toy-model.ts';

/**
 * A training engine on TensorFlow.js: the model's loss written with tf ops, its gradient by
 * TF.js autodiff (not the hand-written gradient of toy-model.ts), and AdamW (PyTorch's
 * formula, as in optim/adamw.ts) with tf ops, all in float32.
 *
 * Backend, chosen once per process by `loadTfjs()`: '@tensorflow/tfjs-node' ('tensorflow')
 * if it can be imported, else '@tensorflow/tfjs' with '@tensorflow/tfjs-backend-wasm'
 * ('wasm', its .wasm files read from the installed package), else the plain 'cpu' backend.
 * Nothing is ever downloaded. The backend is TF.js's global state: every TF.js user in the
 * process shares it.
 *
 * Results are deterministic for one backend on one machine (the same inputs give the same
 * float32 bits), so a session resumed from `state()` continues exactly; they agree with the
 * float64 reference engine only to float32 rounding.
 */

type Tfjs = typeof TF;

export interface LoadedTfjs {
  tf: Tfjs;
  /** 'tensorflow', 'wasm' or 'cpu' */
  backend: string;
  /** e.g. "tfjs-4.22.0/wasm": enters the training task's cache key */
  version: string;
  /** Why the faster backends were not used (empty when the first choice loaded). */
  notes: string[];
}

// A variable, so that the type checker does not require the (optional, usually absent) package.
const TFJS_NODE = '@tensorflow/tfjs-node';

let loading: Promise<LoadedTfjs> | null = null;

/** Loads TF.js and picks its backend, once per process; later calls return the same result. */
export function loadTfjs(): Promise<LoadedTfjs> {
  loading ??= chooseBackend();
  return loading;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** The module namespace of a CommonJS package imported from ESM, or its module.exports. */
function tfFrom(mod: unknown): Tfjs {
  const ns = mod as Tfjs & { default?: Tfjs };
  if (typeof ns.variableGrads === 'function') return ns;
  if (ns.default && typeof ns.default.variableGrads === 'function') return ns.default;
  throw new Error('the module does not look like TensorFlow.js');
}

async function chooseBackend(): Promise<LoadedTfjs> {
  const notes: string[] = [];
  const done = (tf: Tfjs, backend: string): LoadedTfjs => ({
    tf, backend, version: `tfjs-${tf.version_core}/${backend}`, notes,
  });

  try {
    const tf = tfFrom(await import(TFJS_NODE));
    if (await tf.setBackend('tensorflow')) {
      await tf.ready();
      return done(tf, 'tensorflow');
    }
    notes.push(`${TFJS_NODE} loaded but its 'tensorflow' backend did not start`);
  } catch (e) {
    notes.push(`${TFJS_NODE} unavailable: ${message(e)}`);
  }

  const tf = tfFrom(await import('@tensorflow/tfjs'));
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Registers the backend (as a side effect of the import) and reads the .wasm binaries
    // from the installed package, never from a CDN.
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(main.slice(0, main.lastIndexOf('/') + 1));
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      return done(tf, 'wasm');
    }
    notes.push("the 'wasm' backend did not start");
  } catch (e) {
    notes.push(`the 'wasm' backend is unavailable: ${message(e)}`);
  }

  if (!(await tf.setBackend('cpu'))) throw new Error(`TensorFlow.js: no backend would start (${notes.join('; ')})`);
  await tf.ready();
  return done(tf, 'cpu');
}

/**
 * Dense batches are built in chunks of whole points of at most `maxChunkElements` elements,
 * so that a large batch (e.g. a 100,000-point test set) never needs one huge tensor; the
 * chunks' losses and gradients are added. Chunking depends only on (count, n), so it is
 * deterministic; a batch that fits one chunk (all the usual training batches) is one tensor.
 * A batch of at most `maxCachedElements` elements stays on the backend while the same
 * SparsePoints object is passed again (full-batch training); a larger one is rebuilt each call.
 */
interface TfjsEngineOptions {
  maxChunkElements?: number;
  maxCachedElements?: number;
}

const DEFAULT_MAX_CHUNK_ELEMENTS = 1 << 24; // 64 MB of float32
const DEFAULT_MAX_CACHED_ELEMENTS = 1 << 26; // 256 MB

/**
 * The engine on the best available backend, loaded first: name 'tfjs', version e.g.
 * "tfjs-4.22.0/wasm" (the backend enters the cache key: results differ between backends).
 */
export const createEngine = (): Promise<StepEngine> => createTfjsEngine();

export async function createTfjsEngine(options: TfjsEngineOptions = {}): Promise<StepEngine> {
  const loaded = await loadTfjs();
  const limits = {
    maxChunkElements: options.maxChunkElements ?? DEFAULT_MAX_CHUNK_ELEMENTS,
    maxCachedElements: options.maxCachedElements ?? DEFAULT_MAX_CACHED_ELEMENTS,
  };
  const open = new Set<StepSession>();
  let closed = false;
  return stepwiseEngine({
    name: 'tfjs',
    version: loaded.version,
      openStep(init: Params, opt: OptimiserSettings, resume?: SessionState): StepSession {
      if (closed) throw new Error('tfjs engine: the engine has been closed');
      const s = openSession(loaded.tf, limits, init, opt, resume, (done) => open.delete(done));
      open.add(s);
      return s;
    },
    /** Disposes the sessions still open. TF.js itself stays loaded: its backend is per process. */
    async close() {
      closed = true;
      for (const s of [...open]) await s.dispose();
    },
  });
}

// A session (openSession, at the end) composes three parts: DenseBatches (sparse batches as
// dense tensors), lossAndGrads (the loss with tf ops, its gradient by autodiff) and
// AdamWVariables (parameters and moments as TF.js variables, and the AdamW update).

const toF64 = (v: TF.Tensor) => Float64Array.from(v.dataSync() as Float32Array);

/**
 * Sparse batches as dense [n, points] float32 tensors, one column per point, in chunks of at
 * most `chunkPoints` points (see TfjsEngineOptions). The chunks of the batch last seen stay on
 * the backend while the same SparsePoints object is passed again, if it is small enough.
 */
class DenseBatches {
  private readonly tf: Tfjs;
  private readonly n: number;
  private readonly chunkPoints: number;
  private readonly maxCachedElements: number;
  private cachedBatch: SparsePoints | null = null;
  private cachedChunks: TF.Tensor2D[] | null = null;

  constructor(tf: Tfjs, n: number, limits: Required<TfjsEngineOptions>) {
    this.tf = tf;
    this.n = n;
    this.chunkPoints = Math.max(1, Math.floor(limits.maxChunkElements / n));
    this.maxCachedElements = limits.maxCachedElements;
  }

  /** Calls `use` on the dense chunks of `x` in order, from the cache or built (and freed) on the way. */
  forEach(x: SparsePoints, use: (chunk: TF.Tensor2D) => void): void {
    const { n, chunkPoints } = this;
    if (x.n !== n) throw new RangeError(`tfjs engine: batch has ${x.n} features, the model ${n}`);
    if (x.count < 1) throw new RangeError('tfjs engine: empty batch');
    if (x === this.cachedBatch && this.cachedChunks) {
      for (const c of this.cachedChunks) use(c);
      return;
    }
    this.drop();
    const keep = x.count * n <= this.maxCachedElements;
    const chunks: TF.Tensor2D[] = [];
    try {
      for (let t0 = 0; t0 < x.count; t0 += chunkPoints) {
        const c = this.dense(x, t0, Math.min(t0 + chunkPoints, x.count));
        if (keep) chunks.push(c);
        try {
          use(c);
        } finally {
          if (!keep) c.dispose();
        }
      }
    } catch (e) {
      for (const c of chunks) c.dispose();
      throw e;
    }
    if (keep) {
      this.cachedBatch = x;
      this.cachedChunks = chunks;
    }
  }

  /** Frees the cached chunks. */
  drop(): void {
    if (this.cachedChunks) for (const c of this.cachedChunks) c.dispose();
    this.cachedBatch = null;
    this.cachedChunks = null;
  }

  /** Points t0..t1-1 of `x` as a dense [n, points] tensor. */
  private dense(x: SparsePoints, t0: number, t1: number): TF.Tensor2D {
    const rows = t1 - t0;
    // A fresh array each time: the cpu backend keeps a reference to it rather than a copy.
    const data = new Float32Array(this.n * rows);
    const { rowPtr, col, val } = x;
    for (let r = 0; r < rows; r++) {
      for (let q = rowPtr[t0 + r]; q < rowPtr[t0 + r + 1]; q++) data[col[q] * rows + r] = val[q];
    }
    return this.tf.tensor2d(data, [this.n, rows], 'float32');
  }
}

/**
 * The loss of the points in `xT` (dense [n, points], one column per point): the sum over
 * its points and features of (x - x')^2, divided by `count` (the whole batch's size), with
 *   h^T = W^T x^T  [m, points];   z^T = W h^T + b  [n, points];   x'^T = relu(z^T)
 * (W is [n, m], feature-major, so this is the paper's h = W x, z = W^T h + b).
 * This layout (points along the inner axis) is the faster one on the wasm backend: the
 * decoder product needs no transpose and the bias gradient reduces along the inner axis.
 */
function chunkLoss(tf: Tfjs, W: TF.Variable, b: TF.Variable, xT: TF.Tensor2D, count: number): TF.Scalar {
  const n = W.shape[0];
  const hT = tf.matMul(W, xT, true, false);
  const zT = tf.add(tf.matMul(W, hT), tf.reshape(b, [n, 1]));
  // Per feature first, then over features: keeps the float32 rounding of the sum small.
  return tf.div(tf.sum(tf.sum(tf.squaredDifference(xT, tf.relu(zT)), 1)), count);
}

/** A batch's loss (NaN when not asked for) and its gradient, as tensors the caller disposes. */
interface Gradient {
  loss: number;
  gW: TF.Tensor;
  gb: TF.Tensor;
}

/** The loss of `batch` at (W, b) and its gradient by autodiff: the chunks' gradients of (their sum / count), added in order. */
function lossAndGrads(tf: Tfjs, batches: DenseBatches, W: TF.Variable, b: TF.Variable, batch: SparsePoints, withLoss: boolean): Gradient {
  let total = 0;
  const sum: { W: TF.Tensor | null; b: TF.Tensor | null } = { W: null, b: null };
  try {
    batches.forEach(batch, (x) => {
      const [value, dW, db] = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => chunkLoss(tf, W, b, x, batch.count), [W, b]);
        return [value, grads[W.name], grads[b.name]];
      });
      if (withLoss) total += value.dataSync()[0];
      value.dispose();
      if (sum.W && sum.b) {
        const [sW, sb] = tf.tidy(() => [tf.add(sum.W!, dW), tf.add(sum.b!, db)]);
        tf.dispose([sum.W, sum.b, dW, db]);
        sum.W = sW;
        sum.b = sb;
      } else {
        sum.W = dW;
        sum.b = db;
      }
    });
  } catch (e) {
    for (const g of [sum.W, sum.b]) g?.dispose();
    throw e;
  }
  return { loss: withLoss ? total : NaN, gW: sum.W!, gb: sum.b! };
}

/**
 * The parameters W [n, m] and b [n] and their AdamW moments as float32 TF.js variables, with
 * the step count and the running powers of the betas; `update` is one step of PyTorch's AdamW
 * (the formula of optim/adamw.ts).
 */
class AdamWVariables {
  readonly n: number;
  readonly m: number;
  readonly W: TF.Variable;
  readonly b: TF.Variable;
  private readonly tf: Tfjs;
  private readonly opt: OptimiserSettings;
  private readonly mW: TF.Variable;
  private readonly vW: TF.Variable;
  private readonly mb: TF.Variable;
  private readonly vb: TF.Variable;
  private t: number;
  private beta1Power: number;
  private beta2Power: number;

  /** Starts from `from` and, when resuming, the saved moments and counts of `resume`. */
  constructor(tf: Tfjs, from: Params, opt: OptimiserSettings, resume: SessionState | undefined) {
    const { n, m } = from;
    const nW = n * m;
    if (from.W.length !== nW || from.b.length !== n) throw new RangeError(`tfjs engine: params of shape n=${n}, m=${m} have W ${from.W.length}, b ${from.b.length}`);
    if (resume && (resume.m.length !== nW + n || resume.v.length !== nW + n))
      throw new RangeError(`tfjs engine: saved moments have length ${resume.m.length}/${resume.v.length}, expected ${nW + n}`);
    this.tf = tf;
    this.opt = opt;
    this.n = n;
    this.m = m;
    // tf.variable shares the data of its initial value; tidy frees the initial tensor itself.
    const variable = (values: ArrayLike<number>, shape: number[], trainable: boolean) =>
      tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(values), shape, 'float32'), trainable));
    this.W = variable(from.W, [n, m], true);
    this.b = variable(from.b, [n], true);
    const zeros = new Float64Array(nW + n);
    this.mW = variable((resume?.m ?? zeros).subarray(0, nW), [n, m], false);
    this.vW = variable((resume?.v ?? zeros).subarray(0, nW), [n, m], false);
    this.mb = variable((resume?.m ?? zeros).subarray(nW), [n], false);
    this.vb = variable((resume?.v ?? zeros).subarray(nW), [n], false);
    this.t = resume?.t ?? 0;
    this.beta1Power = resume?.beta1Power ?? 1;
    this.beta2Power = resume?.beta2Power ?? 1;
  }

  /** One AdamW step at rate `lr` with the gradient (gW, gb). */
  update(gW: TF.Tensor, gb: TF.Tensor, lr: number): void {
    const { tf, opt } = this;
    this.t += 1;
    this.beta1Power *= opt.beta1;
    this.beta2Power *= opt.beta2;
    const c1 = 1 - this.beta1Power;
    const c2 = 1 - this.beta2Power;
    tf.tidy(() => {
      this.adamw(this.W, gW, this.mW, this.vW, lr, opt.weightDecay, c1, c2);
      this.adamw(this.b, gb, this.mb, this.vb, lr, opt.decayBias ? opt.weightDecay : 0, c1, c2);
    });
  }

  /** A float64 copy of the parameters. */
  params(): Params {
    return { n: this.n, m: this.m, W: toF64(this.W), b: toF64(this.b) };
  }

  state(): SessionState {
    const { t, beta1Power, beta2Power } = this;
    return { params: this.params(), m: this.flat(this.mW, this.mb), v: this.flat(this.vW, this.vb), t, beta1Power, beta2Power };
  }

  dispose(): void {
    for (const v of [this.W, this.b, this.mW, this.vW, this.mb, this.vb]) v.dispose();
  }

  /** PyTorch's AdamW on one parameter tensor, with the bias corrections c1, c2 of this step. */
  private adamw(p: TF.Variable, g: TF.Tensor, mt: TF.Variable, vt: TF.Variable, lr: number, wd: number, c1: number, c2: number): void {
    const { tf } = this;
    const { beta1, beta2, eps } = this.opt;
    const mNew = tf.add(tf.mul(mt, beta1), tf.mul(g, 1 - beta1));
    const vNew = tf.add(tf.mul(vt, beta2), tf.mul(tf.mul(g, 1 - beta2), g));
    const stepSize = tf.div(tf.mul(tf.div(mNew, c1), lr), tf.add(tf.sqrt(tf.div(vNew, c2)), eps));
    const pNew = tf.sub(tf.mul(p, 1 - lr * wd), stepSize);
    mt.assign(mNew);
    vt.assign(vNew);
    p.assign(pNew);
  }

  /** The moments of W then b, flat, in float64. */
  private flat(a: TF.Tensor, c: TF.Tensor): Float64Array {
    const nW = this.n * this.m;
    const out = new Float64Array(nW + this.n);
    out.set(a.dataSync() as Float32Array, 0);
    out.set(c.dataSync() as Float32Array, nW);
    return out;
  }
}

/**
 * A session: gradients of batches made dense by `batches`, applied to `vars`. Once disposed,
 * it frees its tensors, tells the engine (`onDispose`) and refuses every call.
 */
function openSession(
  tf: Tfjs, limits: Required<TfjsEngineOptions>, init: Params, opt: OptimiserSettings, resume: SessionState | undefined,
  onDispose: (s: StepSession) => void,
): StepSession {
  const vars = new AdamWVariables(tf, resume?.params ?? init, opt, resume);
  const { n, m } = vars;
  const batches = new DenseBatches(tf, n, limits);
  let disposed = false;

  const live = () => {
    if (disposed) throw new Error('tfjs engine: the session has been disposed');
  };
  /** Calls `use` with the batch's loss and gradient, then frees the gradient's tensors. */
  const withGradient = <R>(batch: SparsePoints, withLoss: boolean, use: (g: Gradient) => R): R => {
    live();
    const g = lossAndGrads(tf, batches, vars.W, vars.b, batch, withLoss);
    try {
      return use(g);
    } finally {
      tf.dispose([g.gW, g.gb]);
    }
  };

  const session: StepSession = {
    step: (batch: SparsePoints, lr: number, withLoss = true): number =>
      withGradient(batch, withLoss, ({ loss, gW, gb }) => {
        vars.update(gW, gb, lr);
        return loss;
      }),
    gradient: (batch: SparsePoints): { loss: number; grad: Params } =>
      withGradient(batch, true, ({ loss, gW, gb }) => ({ loss, grad: { n, m, W: toF64(gW), b: toF64(gb) } })),
    params(): Params {
      live();
      return vars.params();
    },
    state(): SessionState {
      live();
      return vars.state();
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      batches.drop();
      vars.dispose();
      onDispose(session);
    },
  };
  return session;
}
