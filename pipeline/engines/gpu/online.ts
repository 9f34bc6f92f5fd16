/// <reference types="@webgpu/types" />
import { readFileSync } from 'node:fs';
import { createBuffer, readBack, USAGE } from './buffers.ts';
import { drawThresholds } from '../../data/gaps.ts';

/**
 * Online batches of the paper's sparse points drawn on the device, bit for bit as data/generate.ts
 * `generatePoints({ n, sparsity }, batch, rng)` draws them on the CPU, continuing one xoshiro128**
 * stream (prng/rng.ts) whose state stays on the device between batches.
 *
 * Per batch (points.wgsl):
 *  1. draw (parallel): the next `window` 53-bit draws of the stream, one segment of `segLen` draws
 *     per thread, each thread starting from the stream state jumped ahead by the GF(2)-linear
 *     jump matrices computed here (xoshiro's transition is linear). Each draw gets a code: its gap
 *     min(gap, n) as the CPU would compute it from it, found in a table of integer thresholds (see
 *     data/gaps.ts `drawThresholds`), and whether it is exactly zero. The window holds the batch's draws with
 *     overwhelming probability (mean + 12 standard deviations and more); if not, the batch is
 *     flagged and `checkOverflow` throws.
 *  2. the parse: where each point's draws start, rowPtr, and the stream state after the batch's
 *     last draw, found from the codes as generate.ts walks the stream (gap, value, gap, ...;
 *     redrawing a point whose values are all zero) — integer arithmetic only, so exact in any order.
 *     In parallel (the default, save on fallback (CPU) adapters), in 2 + levels dispatches:
 *     - attempts: one thread per position p of the window walks the attempt (gap, value, ..., the
 *       gap past feature n - 1) that would start at p: where it ends, whether it is valid, its
 *       active features. Attempts from consecutive points' starts follow one another: a chain.
 *     - compose, levels 1 .. levels - 1: the same for radix^L consecutive attempts from each p
 *       (pointer jumping: radix jumps of the level below per entry, four entries per thread), built
 *       only at the positions a descent or a higher level can reach (marked by the level below:
 *       about half the window at level 1, a tenth at level 2, then fewer).
 *     - locate: one thread per point k descends the levels from position 0, passing the longest run
 *       of attempts holding k valid ones (at most radix - 1 jumps per level): the next attempt is
 *       point k's, and the active features passed are rowPtr[k]. An attempt running past the window
 *       counts as infinitely many valid attempts, so a descent stops before it and flags the batch.
 *     Or sequentially (`parse`, one thread walking the codes): on fallback adapters (lavapipe: one
 *     CPU thread walks a batch of 10,000 points in about 1.3 ms, the parallel passes take 20), or
 *     when the chain's tables do not fit.
 *  3. values (one thread per point): the columns, and the values scaled to unit length in float64
 *     arithmetic emulated exactly with 32-bit integers (softf64.wgsl), rounded to float32.
 */
export interface OnlineBatches {
  readonly rowPtr: GPUBuffer; // batch + 1 u32
  readonly col: GPUBuffer; // capacity u32
  readonly val: GPUBuffer; // capacity f32
  readonly capacity: number;
  /** Encodes the drawing of the next batch (continuing the stream held on the device) into `encoder`. */
  encode(encoder: GPUCommandEncoder): void;
  /** Sets the stream's state (Rng.state(): four int32 words, then a spare normal, which must be null here). */
  setStream(state: (number | null)[]): void;
  /** Reads the stream state back (after the submitted work), as Rng.state() would give it: [s0, s1, s2, s3, null] with the words as signed int32. */
  readStream(): Promise<(number | null)[]>;
  /** Throws (naming n, S, batch, capacity) if any batch since the last check overflowed its capacity. */
  checkOverflow(): Promise<void>;
  destroy(): void;
}

const SOFTF64_WGSL = readFileSync(new URL('./softf64.wgsl', import.meta.url), 'utf8');
const POINTS_WGSL = readFileSync(new URL('./points.wgsl', import.meta.url), 'utf8');

/** The float64 emulation alone (for tests of its primitives). */
export const softF64Source = SOFTF64_WGSL;
/** The generator's shader module source: softf64.wgsl then points.wgsl. */
export const pointsSource = `${SOFTF64_WGSL}\n${POINTS_WGSL}`;

const { STORAGE, UNIFORM, COPY_SRC, COPY_DST } = USAGE;

const TWO26 = 2 ** 26;
/** Draws per thread of the draw dispatch. */
const SEG_LEN = 32;
/** Attempts of a level of the parallel parse's chain per attempt of the level below. */
const CHAIN_RADIX = 8;

/**
 * The device's table: the thresholds on the draw (data/gaps.ts drawThresholds), each as
 * (T_k >> 26, T_k & (2^26 - 1)) to compare with the draw's two parts.
 */
export function gapTableWords(n: number, sparsity: number): Uint32Array {
  const thresholds = drawThresholds(n, sparsity);
  const t = new Uint32Array(2 * n);
  for (let k = 0; k < n; k++) {
    const T = thresholds[k];
    const hi = Math.floor(T / TWO26);
    t[2 * k] = hi;
    t[2 * k + 1] = T - hi * TWO26;
  }
  return t;
}

/** The linear map of one xoshiro128** step, applied to a 128-bit state (four u32 words). */
function xoshiroStep(s: Uint32Array): void {
  const s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
  const t = s1 << 9;
  const n2 = s2 ^ s0;
  const n3 = s3 ^ s1;
  s[0] = s0 ^ n3;
  s[1] = s1 ^ n2;
  s[2] = n2 ^ t;
  s[3] = (n3 << 11) | (n3 >>> 21);
}

/** Applies a 128x128 GF(2) matrix, given as its 128 columns of four words, to a state. */
function applyMatrix(cols: Uint32Array, s: Uint32Array, out: Uint32Array): void {
  out.fill(0);
  for (let b = 0; b < 128; b++) {
    if ((s[b >>> 5] >>> (b & 31)) & 1) {
      for (let w = 0; w < 4; w++) out[w] ^= cols[b * 4 + w];
    }
  }
}

/** Columns of the jumps by 2^level * steps xoshiro steps, level = 0..levels - 1. */
export function jumpMatrices(steps: number, levels: number): Uint32Array {
  const out = new Uint32Array(levels * 128 * 4);
  const v = new Uint32Array(4);
  for (let b = 0; b < 128; b++) {
    v.fill(0);
    v[b >>> 5] = 1 << (b & 31);
    for (let i = 0; i < steps; i++) xoshiroStep(v);
    out.set(v, b * 4);
  }
  const col = new Uint32Array(4);
  for (let level = 1; level < levels; level++) {
    const prev = out.subarray((level - 1) * 512, level * 512);
    for (let b = 0; b < 128; b++) {
      applyMatrix(prev, prev.subarray(b * 4, b * 4 + 4), col);
      out.set(col, level * 512 + b * 4);
    }
  }
  return out;
}

/** Sizes: the window of draws per batch and the capacity of col/val, from the distribution. */
export function onlineSizes(n: number, sparsity: number, batch: number): { window: number; capacity: number } {
  if (sparsity === 0) {
    // every feature active: n value draws per point (a redraw needs n zero draws, p = 2^-53n)
    return { window: Math.ceil((batch * n + SEG_LEN) / SEG_LEN) * SEG_LEN, capacity: batch * n };
  }
  const q = 1 - sparsity;
  const pEmpty = sparsity ** n; // an attempt with no active feature (redrawn)
  const ea = (n * q) / (1 - pEmpty); // active features given at least one
  const va = Math.max(0, (n * q * (1 - q) + (n * q) ** 2) / (1 - pEmpty) - ea * ea);
  const ef = pEmpty / (1 - pEmpty); // failed attempts per point, one draw each
  const vf = pEmpty / (1 - pEmpty) ** 2;
  const meanDraws = batch * (ef + 1 + 2 * ea);
  const sdDraws = Math.sqrt(batch * (vf + 4 * va));
  // generous tails: 12 sd, plus room for small-mean and geometric (redraw) tails
  const redrawTail = pEmpty > 0 ? 100 / -Math.log(pEmpty) : 0;
  const window = Math.ceil((1.05 * meanDraws + 12 * sdDraws + 256 + redrawTail) / SEG_LEN) * SEG_LEN;
  const capacity = Math.min(batch * n, Math.ceil(1.05 * batch * ea + 12 * Math.sqrt(batch * va) + 128));
  return { window, capacity };
}

export function createOnlineBatches(
  device: GPUDevice,
  o: {
    n: number;
    sparsity: number;
    batch: number;
    /** Overrides of the sizes `onlineSizes` chooses (for tests of the overflow checks): window rounded up to 32 draws. */
    sizes?: { window?: number; capacity?: number };
    /**
     * How to find the points' starts in the window (the same points either way): in parallel, or with one
     * thread. By default in parallel, save on a fallback (CPU) adapter such as lavapipe, where one thread
     * is fast and the parallel passes cost more than they save, or when the parallel tables do not fit.
     */
    parse?: 'parallel' | 'sequential';
  },
): OnlineBatches {
  const { n, sparsity, batch } = o;
  if (!Number.isInteger(n) || n < 1 || n > 0x7fffffff) throw new RangeError(`online batches: n must be a positive integer, not ${n}`);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`online batches: batch must be a positive integer, not ${batch}`);
  if (!(sparsity >= 0 && sparsity < 1) || (sparsity > 0 && Math.log(sparsity) === 0)) {
    throw new RangeError(`online batches: sparsity must be in [0, 1), not ${sparsity}`);
  }
  const hasGaps = sparsity !== 0;
  const chosen = onlineSizes(n, sparsity, batch);
  const window = o.sizes?.window !== undefined ? Math.max(SEG_LEN, Math.ceil(o.sizes.window / SEG_LEN) * SEG_LEN) : chosen.window;
  const capacity = o.sizes?.capacity ?? chosen.capacity;
  const segments = window / SEG_LEN;
  const levels = Math.max(1, Math.ceil(Math.log2(segments + 1)));

  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  for (const [what, bytes] of [['draw window', window * 8], ['col/val', capacity * 4], ['gap table', n * 8]] as const) {
    if (bytes > limit) {
      throw new RangeError(`online batches (n = ${n}, S = ${sparsity}, batch = ${batch}): the ${what} needs ${bytes} bytes, over the device's limit of ${limit}`);
    }
  }
  if (Math.ceil((segments + 1) / 64) > device.limits.maxComputeWorkgroupsPerDimension || Math.ceil(batch / 64) > device.limits.maxComputeWorkgroupsPerDimension) {
    throw new RangeError(`online batches (n = ${n}, S = ${sparsity}, batch = ${batch}): too many workgroups for one dispatch`);
  }

  // the parallel parse's chain: levels 0 .. chainLevels - 1, level L jumping radix^L attempts, the top
  // one at most the batch's expected attempts (so locate's top-level loop runs about radix times or less)
  const attemptsPerPoint = sparsity === 0 ? 1 : Math.min(1e6, 1 / (1 - sparsity ** n));
  let chainLevels = 1;
  while (CHAIN_RADIX ** chainLevels <= batch * attemptsPerPoint) chainLevels++;
  const chainBytes = chainLevels * (window + 1) * 16;
  const onCpu = (device as GPUDevice & { adapterInfo?: { isFallbackAdapter?: boolean } }).adapterInfo?.isFallbackAdapter === true;
  const parallel =
    (o.parse === 'parallel' || (o.parse === undefined && !onCpu)) &&
    chainBytes <= limit &&
    Math.ceil((window + 1) / 64) <= device.limits.maxComputeWorkgroupsPerDimension;
  if (o.parse === 'parallel' && !parallel) {
    throw new RangeError(`online batches (n = ${n}, S = ${sparsity}, batch = ${batch}): the parallel parse's ${chainBytes} bytes of tables or ${window + 1} threads do not fit the device`);
  }

  const buffers: GPUBuffer[] = [];
  const make = (label: string, size: number, usage: number): GPUBuffer => {
    const b = createBuffer(device, size, usage, `online ${label}`);
    buffers.push(b);
    return b;
  };

  const params = make('params', 32, UNIFORM | COPY_DST);
  device.queue.writeBuffer(params, 0, new Uint32Array([n, hasGaps ? 1 : 0, batch, capacity, window, SEG_LEN, segments, parallel ? 1 : 0]));
  const stream = make('stream', 16, STORAGE | COPY_SRC | COPY_DST);
  const jumps = make('jumps', levels * 128 * 16, STORAGE | COPY_DST);
  device.queue.writeBuffer(jumps, 0, jumpMatrices(2 * SEG_LEN, levels));
  const gapTable = make('gap table', n * 8, STORAGE | COPY_DST);
  if (hasGaps) device.queue.writeBuffer(gapTable, 0, gapTableWords(n, sparsity));
  const segStates = make('segment states', (segments + 1) * 16, STORAGE);
  const draws = make('draws', window * 8, STORAGE);
  const codes = make('codes', (window + 2) * 4, STORAGE | COPY_DST);
  // past the window, two gaps of n: they end any attempt the parallel parse walks there (points.wgsl walkAttempt)
  device.queue.writeBuffer(codes, window * 4, new Uint32Array([n, n]));
  const pointStart = make('point starts', batch * 4, STORAGE);
  const rowPtr = make('rowPtr', (batch + 1) * 4, STORAGE | COPY_SRC | COPY_DST);
  const col = make('col', capacity * 4, STORAGE | COPY_SRC | COPY_DST);
  const val = make('val', capacity * 4, STORAGE | COPY_SRC | COPY_DST);
  const flags = make('flags', 4, STORAGE | COPY_SRC | COPY_DST);
  const chain = parallel ? make('attempt chain', chainBytes, STORAGE) : null;
  const marks = make('attempt chain marks', (parallel ? window + 1 : 1) * 4, STORAGE); // bound to draw in either case
  const chainLevel: GPUBuffer[] = [];
  if (parallel) {
    for (let level = 0; level < chainLevels; level++) {
      const b = make(`chain level ${level}`, 16, UNIFORM | COPY_DST);
      device.queue.writeBuffer(b, 0, new Uint32Array([level, chainLevels, CHAIN_RADIX, 0]));
      chainLevel.push(b);
    }
  }

  const module = device.createShaderModule({ label: 'online points', code: pointsSource });
  const byBinding: (GPUBuffer | null)[] = [params, stream, jumps, gapTable, segStates, draws, codes, pointStart, rowPtr, col, val, flags, null, null, null, chain, marks];
  const stage = (entryPoint: string, bindings: number[], level?: GPUBuffer) => {
    const pipeline = device.createComputePipeline({ label: `online ${entryPoint}`, layout: 'auto', compute: { module, entryPoint } });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((binding) => ({ binding, resource: { buffer: (binding === 14 ? level : byBinding[binding]) as GPUBuffer } })),
    });
    return { pipeline, bindGroup };
  };
  type Stage = ReturnType<typeof stage>;
  const drawStage = stage('draw', [0, 1, 2, 3, 4, 5, 6, 16]);
  // the parse, as (stage, threads) in order
  const parseStages: [Stage, number][] = [];
  if (parallel) {
    parseStages.push([stage('attempts', [0, 6, 15, 16]), window + 1]);
    const composeStage = chainLevels > 1 ? stage('compose', [0, 14, 15, 16], chainLevel[1]) : null;
    for (let level = 1; composeStage && level < chainLevels; level++) {
      const bindGroup = device.createBindGroup({
        layout: composeStage.pipeline.getBindGroupLayout(0),
        entries: [0, 14, 15, 16].map((binding) => ({ binding, resource: { buffer: (binding === 14 ? chainLevel[level] : byBinding[binding]) as GPUBuffer } })),
      });
      parseStages.push([{ pipeline: composeStage.pipeline, bindGroup }, Math.ceil((window + 1) / 4)]); // four positions a thread
    }
    parseStages.push([stage('locate', [0, 1, 4, 7, 8, 11, 14, 15], chainLevel[0]), batch]);
  } else {
    parseStages.push([stage('parse', [0, 1, 4, 6, 7, 8, 11]), 1]);
  }
  const valuesStage = stage('values', [0, 5, 6, 7, 8, 9, 10]);

  const readWords = async (src: GPUBuffer, words: number): Promise<Uint32Array> => new Uint32Array(await readBack(device, src, 0, words * 4));

  let streamSet = false;
  return {
    rowPtr,
    col,
    val,
    capacity,
    encode(encoder) {
      if (!streamSet) throw new Error('online batches: setStream before the first batch');
      const pass = encoder.beginComputePass({ label: 'online points' });
      pass.setPipeline(drawStage.pipeline);
      pass.setBindGroup(0, drawStage.bindGroup);
      pass.dispatchWorkgroups(Math.ceil((segments + 1) / 64));
      for (const [{ pipeline, bindGroup }, threads] of parseStages) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(Math.ceil(threads / 64)); // the sequential parse: one workgroup (of one thread)
      }
      pass.setPipeline(valuesStage.pipeline);
      pass.setBindGroup(0, valuesStage.bindGroup);
      pass.dispatchWorkgroups(Math.ceil(batch / 64));
      pass.end();
    },
    setStream(state) {
      if (state.length > 4 && state[4] !== null) throw new Error('online batches: the stream has a spare normal value; points never draw normals');
      const words = new Uint32Array(4);
      for (let i = 0; i < 4; i++) {
        const w = state[i];
        if (typeof w !== 'number' || !Number.isInteger(w)) throw new TypeError(`online batches: bad stream state word ${i}: ${w}`);
        words[i] = w >>> 0;
      }
      if ((words[0] | words[1] | words[2] | words[3]) === 0) words[3] = 1; // as Rng does
      device.queue.writeBuffer(stream, 0, words);
      streamSet = true;
    },
    async readStream() {
      const w = await readWords(stream, 4);
      return [w[0] | 0, w[1] | 0, w[2] | 0, w[3] | 0, null];
    },
    async checkOverflow() {
      const f = (await readWords(flags, 1))[0];
      if (f === 0) return;
      device.queue.writeBuffer(flags, 0, new Uint32Array(1));
      const what = [f & 1 ? `more active features than the capacity of ${capacity}` : '', f & 2 ? `more draws than the window of ${window}` : '']
        .filter(Boolean)
        .join(' and ');
      throw new Error(`online batches (n = ${n}, S = ${sparsity}, batch = ${batch}, capacity = ${capacity}): a batch had ${what}; its points are wrong`);
    },
    destroy() {
      for (const b of buffers) b.destroy();
    },
  };
}
