import type { SparsePoints } from '../data/points.ts';
import { BUCKET_BITS } from '../data/gaps.ts';

const PAGE = 65536;
const BASE = PAGE; // below: the kernel module's own static data
const align16 = (x: number) => Math.ceil(x / 16) * 16;

/** Where the run's context lies: a fixed address, which the worker threads are given once. */
export const CTX = BASE;
/**
 * The context's fields (byte offsets; assembly/kernel.ts CTX_*, which must match): i32 unless
 * noted. NEXT counts the step's work taken (chunks, then units of the update), DONE and
 * UNITS_DONE the chunks and units finished.
 */
export const CTX_FIELD = {
  inits: 0, nPad: 4, m: 8, T: 12, chunks: 16, rowPtr: 20, col: 24, val: 28,
  P0: 32, initStride: 36, G0: 40, chunkStride: 44, scratch0: 48, scratchBytes: 52,
  losses: 56, withLoss: 60, next: 64, done: 68, floats: 72, bias: 76, decayBias: 80, state: 84,
  beta1: 88, beta2: 96, eps: 104, weightDecay: 112, // f64
  units: 120, unitsDone: 124, coef: 128,
} as const;
const CTX_BYTES = 256;
/** A claim counter no chunk index reaches: left in NEXT whenever no step is open to the worker threads. */
export const NO_CLAIMS = 1 << 30;

/** Where loaded points' CSR arrays lie (byte offsets). */
export interface PointsAt {
  rowPtr: number;
  col: number;
  val: number;
}

/** Where the draw of online batches keeps its state, tables and scratch (byte offsets). */
export interface DrawArea {
  rng: number;
  table: number;
  buckets: number;
  pointVal: number;
}

/** One region of memory that holds a batch of points, and the batch it holds. */
interface PointsSlot {
  start: number;
  capacity: number;
  loaded: SparsePoints | null;
  at: PointsAt;
}

/**
 * Where one run's data lie in the kernel's shared memory (byte offsets), and the conversions
 * between the engine's parameters (float64, feature-major: W[i*m + k]) and the kernel's buffers
 * (float32, row-major: m rows of W then b, each nPad floats; see assembly/kernel.ts):
 *
 *   [static data | context | state per init | P M V per init | G: per chunk, per init |
 *    losses: per chunk, per init | scratch: one per thread | loss outputs | loss flags |
 *    schedule | points: two slots]
 *
 * Each init's P, M and V lie together (its AdamW touches one stretch of memory); a chunk's
 * gradients of every init lie together (the chunk's call writes one stretch).
 */
export class SessionMemory {
  /** n padded to a multiple of 4 with W = 0, b = 0. */
  readonly nPad: number;
  /** Floats in one buffer: W's m rows, then b. */
  readonly floats: number;
  readonly state: number;
  readonly coef: number;
  readonly P0: number;
  readonly G0: number;
  readonly losses: number;
  readonly lossOut: number;
  readonly flags: number;
  readonly schedule: number;
  private readonly scratch: number;
  private top: number;
  private readonly slots: PointsSlot[] = [];
  private draw: DrawArea | null = null;

  constructor(
    private readonly memory: WebAssembly.Memory,
    readonly n: number,
    readonly m: number,
    readonly inits: number,
    readonly maxChunks: number,
    threads: number,
    private readonly scratchPerThread: number,
    /** Steps one trainSteps call may take: the loss outputs and flags hold this many. */
    readonly segment: number,
    scheduleSteps: number,
  ) {
    this.nPad = Math.ceil(n / 4) * 4;
    this.floats = (m + 1) * this.nPad;
    this.state = CTX + CTX_BYTES;
    this.coef = this.state + 24 * inits;
    this.P0 = align16(this.coef + 20 * inits);
    this.G0 = this.P0 + this.initStride * inits;
    this.losses = this.G0 + this.chunkStride * maxChunks;
    this.scratch = align16(this.losses + 8 * maxChunks * inits);
    this.lossOut = align16(this.scratch + scratchPerThread * threads);
    this.flags = this.lossOut + 8 * Math.max(segment, 1) * inits;
    this.schedule = align16(this.flags + segment);
    this.top = align16(this.schedule + 8 * scheduleSteps);
    this.ensure(this.top);
  }

  /** Bytes in one buffer. */
  get bytes(): number {
    return this.floats * 4;
  }

  /** Bytes between two inits' P (each holds P, M, V). */
  get initStride(): number {
    return 3 * this.bytes;
  }

  /** Bytes between two chunks' gradients (each holds one buffer per init). */
  get chunkStride(): number {
    return this.bytes * this.inits;
  }

  P(init: number): number {
    return this.P0 + this.initStride * init;
  }
  M(init: number): number {
    return this.P(init) + this.bytes;
  }
  V(init: number): number {
    return this.P(init) + 2 * this.bytes;
  }
  /** Init's gradient of chunk c (of chunk 0: where its reduced gradient goes). */
  G(init: number, c = 0): number {
    return this.G0 + this.chunkStride * c + this.bytes * init;
  }

  /** The context's fixed fields, and every init's step count and powers of the betas. */
  writeContext(opt: { beta1: number; beta2: number; eps: number; weightDecay: number; decayBias: boolean }, states: { t: number; beta1Power: number; beta2Power: number }[]): void {
    const F = CTX_FIELD;
    const i32 = this.i32(), f64 = this.f64();
    const set = (field: number, v: number) => void (i32[(CTX + field) >> 2] = v);
    set(F.inits, this.inits);
    set(F.nPad, this.nPad);
    set(F.m, this.m);
    set(F.P0, this.P0);
    set(F.initStride, this.initStride);
    set(F.G0, this.G0);
    set(F.chunkStride, this.chunkStride);
    set(F.scratch0, this.scratch);
    set(F.scratchBytes, this.scratchPerThread);
    set(F.losses, this.losses);
    set(F.floats, this.floats);
    set(F.bias, this.m * this.nPad);
    set(F.decayBias, opt.decayBias ? 1 : 0);
    set(F.state, this.state);
    set(F.coef, this.coef);
    f64[(CTX + F.beta1) >> 3] = opt.beta1;
    f64[(CTX + F.beta2) >> 3] = opt.beta2;
    f64[(CTX + F.eps) >> 3] = opt.eps;
    f64[(CTX + F.weightDecay) >> 3] = opt.weightDecay;
    states.forEach((s, i) => f64.set([s.t, s.beta1Power, s.beta2Power], (this.state + 24 * i) >> 3));
    Atomics.store(i32, (CTX + F.next) >> 2, NO_CLAIMS);
  }

  /** Init's step count and powers of the betas. */
  stateOf(init: number): { t: number; beta1Power: number; beta2Power: number } {
    const [t, beta1Power, beta2Power] = this.f64().subarray((this.state + 24 * init) >> 3, ((this.state + 24 * init) >> 3) + 3);
    return { t, beta1Power, beta2Power };
  }

  /** Points to train on next: where they lie, their count and chunks (CTX fields). */
  usePoints(at: PointsAt, T: number, chunks: number): void {
    const i32 = this.i32(), F = CTX_FIELD;
    i32[(CTX + F.rowPtr) >> 2] = at.rowPtr;
    i32[(CTX + F.col) >> 2] = at.col;
    i32[(CTX + F.val) >> 2] = at.val;
    i32[(CTX + F.T) >> 2] = T;
    i32[(CTX + F.chunks) >> 2] = chunks;
  }

  /** Whether the next pass sums the loss, and how many units of the update follow its chunks (0: none, the chunks alone). */
  setPass(withLoss: boolean, units: number): void {
    const i32 = this.i32();
    i32[(CTX + CTX_FIELD.withLoss) >> 2] = withLoss ? 1 : 0;
    i32[(CTX + CTX_FIELD.units) >> 2] = units;
  }

  /** The chunk losses of init i, in chunk order. */
  chunkLosses(init: number, chunks: number): number[] {
    const f64 = this.f64();
    return Array.from({ length: chunks }, (_, c) => f64[(this.losses >> 3) + c * this.inits + init]);
  }

  /** The schedule (f64), from step 0. */
  writeSchedule(schedule: Float64Array): void {
    this.f64().set(schedule, this.schedule >> 3);
  }

  /** Writes W (n*m, feature-major) and b into the buffer at `ptr`, padding with zeros. */
  write(ptr: number, W: Float64Array, b: Float64Array): void {
    const { n, m, nPad } = this;
    const a = this.f32(ptr);
    a.fill(0);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < m; k++) a[k * nPad + i] = W[i * m + k];
      a[m * nPad + i] = b[i];
    }
  }

  /** The buffer at `ptr` as W (feature-major) and b, in float64. */
  read(ptr: number): { W: Float64Array; b: Float64Array } {
    const { n, m, nPad } = this;
    const a = this.f32(ptr);
    const W = new Float64Array(n * m), b = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < m; k++) W[i * m + k] = a[k * nPad + i];
      b[i] = a[m * nPad + i];
    }
    return { W, b };
  }

  /** write() of a flat [W | b] vector (the optimiser's moments). */
  writeFlat(ptr: number, flat: Float64Array): void {
    const nm = this.n * this.m;
    this.write(ptr, flat.subarray(0, nm), flat.subarray(nm));
  }

  /** read() as a flat [W | b] vector. */
  readFlat(ptr: number): Float64Array {
    const { W, b } = this.read(ptr);
    const out = new Float64Array(W.length + b.length);
    out.set(W);
    out.set(b, W.length);
    return out;
  }

  zero(ptr: number): void {
    this.f32(ptr).fill(0);
  }

  /**
   * Copies `batch` into slot `slot` (0 or 1: one may be read by the kernel while the other
   * is filled), unless it is the batch that slot holds; returns where its arrays lie.
   */
  load(batch: SparsePoints, slot = 0): PointsAt {
    const s = this.slot(slot);
    if (batch === s.loaded) return s.at;
    if (batch.n !== this.n) throw new Error(`batch has ${batch.n} features, the model ${this.n}`);
    const nnz = batch.col.length;
    const at = this.reserve(slot, batch.count, nnz);
    new Uint32Array(this.memory.buffer, at.rowPtr, batch.count + 1).set(batch.rowPtr);
    new Uint32Array(this.memory.buffer, at.col, nnz).set(batch.col);
    new Float32Array(this.memory.buffer, at.val, nnz).set(batch.val);
    s.loaded = batch;
    return at;
  }

  /**
   * Slot `slot` made room for `count` points and `nnz` active features: where its arrays lie. It
   * holds no known batch afterwards (the caller fills it).
   */
  reserve(slot: number, count: number, nnz: number): PointsAt {
    const s = this.slot(slot);
    const need = align16((count + 1) * 4) + 2 * align16(nnz * 4);
    if (need > s.capacity) {
      // A new region at the top (the old one is left: memory is never given back).
      s.capacity = align16(need * 1.25 + 64);
      s.start = this.top;
      this.top += s.capacity;
      this.ensure(this.top);
    }
    const rowPtr = s.start;
    const col = align16(rowPtr + (count + 1) * 4);
    // the rest split in two halves (16-aligned), the columns' and the values'
    const val = col + Math.floor((s.capacity - (col - rowPtr)) / 32) * 16;
    s.loaded = null;
    s.at = { rowPtr, col, val };
    return s.at;
  }

  /** The active features slot `slot` has room for, at the count `reserve` was given. */
  room(slot: number): number {
    const s = this.slot(slot);
    return (s.at.val - s.at.col) / 4;
  }

  /**
   * Bytes for the kernel's draw of online batches (assembly/kernel.ts drawPoints): the stream's
   * state (16 bytes), the gap thresholds (n u64), the buckets' counts (2^BUCKET_BITS u32; data/gaps.ts
   * drawTables) and a point's values (n f64); made once.
   */
  drawArea(): DrawArea {
    if (!this.draw) {
      const rng = this.top, table = align16(rng + 16), bucketsAt = table + 8 * this.n, pointVal = align16(bucketsAt + 4 * 2 ** BUCKET_BITS);
      this.top = align16(pointVal + 8 * this.n);
      this.ensure(this.top);
      this.draw = { rng, table, buckets: bucketsAt, pointVal };
    }
    return this.draw;
  }

  private slot(slot: number): PointsSlot {
    return (this.slots[slot] ??= { start: 0, capacity: 0, loaded: null, at: { rowPtr: 0, col: 0, val: 0 } });
  }

  /** Views of the whole memory (fresh: growing the memory replaces its buffer). */
  i32(): Int32Array {
    return new Int32Array(this.memory.buffer);
  }
  f64(): Float64Array {
    return new Float64Array(this.memory.buffer);
  }
  u8(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  /** The buffer at `ptr` (a fresh view: growing the memory replaces its buffer). */
  private f32(ptr: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, this.floats);
  }

  private ensure(end: number): void {
    const need = Math.ceil(end / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (need > 0) this.memory.grow(need);
  }
}
