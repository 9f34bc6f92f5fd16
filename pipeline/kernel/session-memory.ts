import type { SparsePoints } from '../data/points.ts';

const PAGE = 65536;
const BASE = PAGE; // below: the kernel module's own static data
const align16 = (x: number) => Math.ceil(x / 16) * 16;

/** Where the loaded points' CSR arrays lie (byte offsets). */
interface PointsAt {
  rowPtr: number;
  col: number;
  val: number;
}

/**
 * Where one session's data lie in the kernel's shared memory (byte offsets), and the conversions
 * between the engine's parameters (float64, feature-major: W[i*m + k]) and the kernel's buffers
 * (float32, row-major: m rows of W then b, each nPad floats; see assembly/kernel.ts):
 *
 *   [static data | P | M | V | G: one buffer per chunk | scratch: one per thread | points]
 */
export class SessionMemory {
  /** n padded to a multiple of 4 with W = 0, b = 0. */
  readonly nPad: number;
  /** Floats in one buffer: W's m rows, then b. */
  readonly floats: number;
  readonly P: number;
  readonly M: number;
  readonly V: number;
  /** Chunk 0's gradient buffer, which receives the reduced gradient. */
  readonly G: number;
  private readonly scratch: number;
  private readonly pointsBase: number;
  private loaded: SparsePoints | null = null;
  private points: PointsAt = { rowPtr: 0, col: 0, val: 0 };

  constructor(
    private readonly memory: WebAssembly.Memory,
    readonly n: number,
    readonly m: number,
    maxChunks: number,
    threads: number,
    private readonly scratchPerThread: number,
  ) {
    this.nPad = Math.ceil(n / 4) * 4;
    this.floats = (m + 1) * this.nPad;
    this.P = BASE;
    this.M = this.P + this.bytes;
    this.V = this.M + this.bytes;
    this.G = this.V + this.bytes;
    this.scratch = this.G + this.bytes * maxChunks;
    this.pointsBase = align16(this.scratch + scratchPerThread * threads);
    this.ensure(this.pointsBase);
  }

  /** Bytes in one buffer, and between the chunks' gradient buffers. */
  get bytes(): number {
    return this.floats * 4;
  }

  /** Chunk c's gradient buffer. */
  grad(c: number): number {
    return this.G + this.bytes * c;
  }

  /** The scratch of thread `thread`. */
  scratchOf(thread: number): number {
    return this.scratch + this.scratchPerThread * thread;
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

  /** Copies `batch` in, unless it is the batch loaded last; returns where its arrays lie. */
  load(batch: SparsePoints): PointsAt {
    if (batch === this.loaded) return this.points;
    if (batch.n !== this.n) throw new Error(`batch has ${batch.n} features, the model ${this.n}`);
    const rowPtr = this.pointsBase;
    const col = align16(rowPtr + (batch.count + 1) * 4);
    const val = align16(col + batch.col.length * 4);
    this.ensure(val + batch.val.length * 4);
    new Uint32Array(this.memory.buffer, rowPtr, batch.count + 1).set(batch.rowPtr);
    new Uint32Array(this.memory.buffer, col, batch.col.length).set(batch.col);
    new Float32Array(this.memory.buffer, val, batch.val.length).set(batch.val);
    this.loaded = batch;
    this.points = { rowPtr, col, val };
    return this.points;
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
