import { readFileSync } from 'node:fs';
import type { Engine, EngineSession, OptimiserSettings, SessionOptions, SessionState, Span, SpanResult, StreamState } from '../engine.ts';
import type { SparsePoints } from '../../data/points.ts';
import type { Params } from '../../model/toy-model.ts';
import { generatePoints } from '../../data/generate.ts';
import { Rng } from '../../prng/rng.ts';
import { requestDevice, type GpuContext } from './device.ts';
import { createOnlineBatches } from './online.ts';
import { createBuffer, MAP_MODE_READ, padded, readBack, upload, USAGE } from './buffers.ts';

/**
 * The gpu engine: WebGPU (Dawn, through npm's `webgpu`) compute shaders in float32. A session keeps
 * its data, the parameters and AdamW moments of every init on the device, and trains a span as a
 * few command buffers of up to STEPS_PER_SUBMIT steps each; it reads back only the losses and
 * snapshots the span asks for. The kernels are train.wgsl (see its header for the passes of a
 * step) and transpose.wgsl (the CSC of an online batch).
 *
 * Determinism: every float sum has one order, fixed by the shapes below (which depend on n, m, T
 * and the number of inits, never on the span or on how steps are cut into command buffers); no
 * float atomics. A run is bit-for-bit repeatable on one device and driver. (The loss is computed by
 * separate passes and a variant of the dense pass that only adds to it: asking for it changes no
 * other bit.)
 *
 * Per-step constants (lr, decays, 1 - beta^t) are computed in float64 on the host as the fast
 * engine does, rounded to float32 and uploaded once at open; each dispatch finds its step through
 * a dynamic offset into a uniform buffer of step records.
 */

/** Threads per workgroup of the dense pass. */
const WG = 64;
/** Steps encoded into one command buffer. */
const STEPS_PER_SUBMIT = 64;
/** Command buffers in flight before the host waits for the oldest. */
const IN_FLIGHT = 2;
/**
 * The dense pass aims for about this many workgroups per init and step (tiles x ranges); every
 * init of a session adds as many again (workgroup id z). The shapes do not depend on the number
 * of inits, so an init's bits are the same alone or with others.
 */
const TARGET_WORKGROUPS = 2048;
/** At most this many ranges of points (partial sums of G_W per range). */
const MAX_RANGES = 64;
/** Byte stride of the step and segment records (dynamic uniform offsets). */
const RECORD = 256;
const NONE = 0xffffffff;

/** The dense pass's shape for hidden size m: F features per thread, PB points per block. */
export function denseShape(m: number): { F: number; PB: number } {
  return { F: Math.max(1, Math.min(8, Math.floor(32 / m))), PB: Math.max(1, Math.min(32, Math.floor(64 / m))) };
}

export const GPU_ENGINE_VERSION = `1/wgsl-f32/wg${WG}-f(32/m)-pb(64/m)-ranges${MAX_RANGES}-target${TARGET_WORKGROUPS}/csc`;

const TRAIN_WGSL = readFileSync(new URL('./train.wgsl', import.meta.url), 'utf8');
const TRANSPOSE_WGSL = readFileSync(new URL('./transpose.wgsl', import.meta.url), 'utf8');

export interface GpuEngineOptions {
  /** Cut a step's points into segments of at most this many (normally chosen from the buffer limits; for tests). */
  maxSegmentPoints?: number;
  /** Train at most this many inits in the same dispatches (normally as many as the buffer limits allow; for tests). */
  maxInitsPerGroup?: number;
  /**
   * Where online batches come from: drawn on the device (the default: DeviceBatches over online.ts, the
   * same points as data/generate.ts bit for bit) or on the host and uploaded (HostBatches; for tests).
   */
  onlineSource?: (device: GPUDevice, o: { n: number; sparsity: number; batch: number; maxSteps: number }) => BatchSource;
}

// ---------------------------------------------------------------------------------------------
// Kernels

interface Kernels {
  m: number;
  trainLayout: GPUBindGroupLayout;
  transposeLayout: GPUBindGroupLayout;
  recordLayout: GPUBindGroupLayout;
  hidden: GPUComputePipeline;
  dense: GPUComputePipeline;
  denseLoss: GPUComputePipeline;
  point: GPUComputePipeline;
  sparse: GPUComputePipeline;
  update: GPUComputePipeline;
  gradientOut: GPUComputePipeline;
  loss: GPUComputePipeline;
  clear: GPUComputePipeline;
  count: GPUComputePipeline;
  scan: GPUComputePipeline;
  fill: GPUComputePipeline;
  rank: GPUComputePipeline;
}

const storage = (binding: number, readOnly: boolean): GPUBindGroupLayoutEntry => ({
  binding,
  visibility: GPUShaderStage.COMPUTE,
  buffer: { type: readOnly ? 'read-only-storage' : 'storage' },
});
const uniform = (binding: number, dynamic = false): GPUBindGroupLayoutEntry => ({
  binding,
  visibility: GPUShaderStage.COMPUTE,
  buffer: { type: 'uniform', hasDynamicOffset: dynamic },
});

async function checkedModule(device: GPUDevice, code: string, label: string): Promise<GPUShaderModule> {
  const module = device.createShaderModule({ code, label });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((msg) => msg.type === 'error');
  if (errors.length > 0) throw new Error(`${label}: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
  return module;
}

async function createKernels(device: GPUDevice, m: number): Promise<Kernels> {
  const { F, PB } = denseShape(m);
  const shared = 4 * (PB * m + WG * (PB * m + 1) + WG); // the dense pass's hs, red and lred
  if (shared > device.limits.maxComputeWorkgroupStorageSize) {
    throw new Error(`gpu engine: the dense pass for m = ${m} needs ${shared} bytes of workgroup memory; the device offers ${device.limits.maxComputeWorkgroupStorageSize}`);
  }
  const constants = `const M: u32 = ${m}u;\nconst F: u32 = ${F}u;\nconst PB: u32 = ${PB}u;\nconst WG: u32 = ${WG}u;`;
  device.pushErrorScope('validation');
  const train = await checkedModule(device, TRAIN_WGSL.replace('//!CONSTANTS', constants), `train.wgsl (m = ${m})`);
  const transpose = await checkedModule(device, TRANSPOSE_WGSL, 'transpose.wgsl');
  const trainLayout = device.createBindGroupLayout({
    label: 'train',
    entries: [storage(0, false), storage(1, false), storage(2, false), storage(3, true), storage(4, true), storage(5, true), storage(6, true), storage(7, true), storage(8, false), uniform(9)],
  });
  const transposeLayout = device.createBindGroupLayout({
    label: 'transpose',
    entries: [storage(0, true), storage(1, true), storage(2, false), storage(3, false), storage(4, false), uniform(5)],
  });
  const recordLayout = device.createBindGroupLayout({ label: 'records', entries: [uniform(0, true), uniform(1, true)] });
  const trainPipes = device.createPipelineLayout({ bindGroupLayouts: [trainLayout, recordLayout] });
  const transposePipes = device.createPipelineLayout({ bindGroupLayouts: [transposeLayout, recordLayout] });
  const pipe = (module: GPUShaderModule, layout: GPUPipelineLayout, entryPoint: string, constants?: Record<string, number>) =>
    device.createComputePipelineAsync({ label: entryPoint, layout, compute: { module, entryPoint, constants } });
  const [hidden, dense, denseLoss, point, sparse, update, gradientOut, loss, clear, count, scan, fill, rank] = await Promise.all([
    pipe(train, trainPipes, 'hidden'),
    pipe(train, trainPipes, 'dense', { WITH_LOSS: 0 }),
    pipe(train, trainPipes, 'dense', { WITH_LOSS: 1 }),
    pipe(train, trainPipes, 'point'),
    pipe(train, trainPipes, 'sparse'),
    pipe(train, trainPipes, 'update'),
    pipe(train, trainPipes, 'gradientOut'),
    pipe(train, trainPipes, 'loss'),
    pipe(transpose, transposePipes, 'clear'),
    pipe(transpose, transposePipes, 'count'),
    pipe(transpose, transposePipes, 'scan'),
    pipe(transpose, transposePipes, 'fill'),
    pipe(transpose, transposePipes, 'rank'),
  ]);
  const error = await device.popErrorScope();
  if (error) throw new Error(`gpu engine kernels (m = ${m}): ${error.message}`);
  return { m, trainLayout, transposeLayout, recordLayout, hidden, dense, denseLoss, point, sparse, update, gradientOut, loss, clear, count, scan, fill, rank };
}

// ---------------------------------------------------------------------------------------------
// Buffers

/** The points of a step on the device: CSR (the step's batch starts at rowPtr[rowBase]) and room for its CSC. */
interface DeviceData {
  id: number;
  T: number; // points per step
  nnzCap: number; // entries per step, at most
  rowPtr: GPUBuffer;
  col: GPUBuffer;
  val: GPUBuffer;
  csc: GPUBuffer; // colPtr (n + 1) | perm (nnzCap) | row (nnzCap)
  cscPerm: number;
  cscRow: number;
  /** For batches that arrive as CSR only: the transpose's scratch. */
  transpose?: { counts: GPUBuffer; tmp: GPUBuffer };
  own: GPUBuffer[]; // what destroy() frees
}
let nextDataId = 1;

/** The CSC of `points` on the host: [colPtr (n + 1) | perm | row], entries of each feature in point order. */
export function hostCsc(points: SparsePoints): Uint32Array {
  const { n, count, rowPtr, col } = points;
  const nnz = rowPtr[count];
  const out = new Uint32Array(n + 1 + 2 * nnz);
  for (let q = 0; q < nnz; q++) out[col[q] + 1]++;
  for (let j = 0; j < n; j++) out[j + 1] += out[j];
  const cursor = out.slice(0, n);
  for (let t = 0; t < count; t++) {
    for (let q = rowPtr[t]; q < rowPtr[t + 1]; q++) {
      const c = cursor[col[q]]++;
      out[n + 1 + c] = q;
      out[n + 1 + nnz + c] = t;
    }
  }
  return out;
}

function fixedData(device: GPUDevice, points: SparsePoints): DeviceData {
  const nnz = points.rowPtr[points.count];
  const usage = USAGE.STORAGE;
  const rowPtr = upload(device, points.rowPtr, usage, 'rowPtr');
  const col = upload(device, points.col.subarray(0, nnz), usage, 'col');
  const val = upload(device, points.val.subarray(0, nnz), usage, 'val');
  const csc = upload(device, hostCsc(points), usage, 'csc');
  return { id: nextDataId++, T: points.count, nnzCap: nnz, rowPtr, col, val, csc, cscPerm: points.n + 1, cscRow: points.n + 1 + nnz, own: [rowPtr, col, val, csc] };
}

/**
 * Where online batches come from. The kernels read a step's batch from CSR storage buffers
 * (rowPtr from `rowBase(k)`, col, val); a source fills them, either on the host (HostBatches:
 * generatePoints, several steps' batches per upload) or on the device (a generator that encodes
 * the drawing of each batch into the command encoder).
 */
export interface BatchSource {
  readonly points: number;
  /** Changes whenever the buffers (or the largest batch's entries, nnzCap) change. */
  readonly version: number;
  readonly nnzCap: number;
  buffers(): { rowPtr: GPUBuffer; col: GPUBuffer; val: GPUBuffer };
  /** Restarts the stream at `state` (the span's). */
  setState(state: StreamState): void;
  /** Gets the batches of the next `steps` steps ready (before they are encoded). */
  prepare(steps: number): void;
  /** Encodes what makes the k-th prepared step's batch (nothing when prepare() uploaded it). */
  encode(encoder: GPUCommandEncoder, k: number): void;
  /** The first row of the k-th prepared step's batch in rowPtr. */
  rowBase(k: number): number;
  /** The stream's state after the last prepared batch (after the submitted work, for a device source). */
  state(): StreamState | Promise<StreamState>;
  /** Checks the span's batches once its work is submitted (a device generator's overflow flags). */
  finish?(): Promise<void>;
  destroy(): void;
}

/** What a device generator of online batches offers (online.ts `createOnlineBatches`). */
export interface DeviceGenerator {
  readonly rowPtr: GPUBuffer;
  readonly col: GPUBuffer;
  readonly val: GPUBuffer;
  readonly capacity: number;
  encode(encoder: GPUCommandEncoder): void;
  setStream(state: StreamState): void;
  readStream(): Promise<StreamState>;
  checkOverflow(): Promise<void>;
  destroy(): void;
}

/** Online batches drawn on the device, one per step, each into the generator's CSR buffers (rows from 0). */
export class DeviceBatches implements BatchSource {
  readonly version = 0;
  readonly nnzCap: number;
  constructor(
    private readonly gen: DeviceGenerator,
    readonly points: number,
  ) {
    this.nnzCap = gen.capacity;
  }
  buffers() {
    return { rowPtr: this.gen.rowPtr, col: this.gen.col, val: this.gen.val };
  }
  setState(state: StreamState) {
    this.gen.setStream(state);
  }
  prepare() {}
  encode(encoder: GPUCommandEncoder) {
    this.gen.encode(encoder);
  }
  rowBase() {
    return 0;
  }
  state() {
    return this.gen.readStream();
  }
  finish() {
    return this.gen.checkOverflow();
  }
  destroy() {
    this.gen.destroy();
  }
}

/** Online batches drawn on the device (online.ts): the engine's default source. */
export const deviceBatches: NonNullable<GpuEngineOptions['onlineSource']> = (device, o) => new DeviceBatches(createOnlineBatches(device, o), o.batch);

/** Online batches drawn on the host by generatePoints and uploaded `steps` at a time. */
export class HostBatches implements BatchSource {
  version = 0;
  nnzCap: number;
  private rng: Rng | null = null;
  private rowPtr: GPUBuffer;
  private col: GPUBuffer | null = null;
  private val: GPUBuffer | null = null;
  private entries = 0; // capacity of col and val

  constructor(
    private readonly device: GPUDevice,
    private readonly n: number,
    private readonly sparsity: number,
    readonly points: number,
    private readonly maxSteps: number,
  ) {
    this.nnzCap = Math.max(16, Math.ceil(points * n * (1 - sparsity) * 1.25) + 64);
    this.rowPtr = createBuffer(device, maxSteps * (points + 1) * 4, USAGE.STORAGE | USAGE.COPY_DST, 'online rowPtr');
    this.grow(maxSteps * this.nnzCap);
  }

  private grow(entries: number) {
    this.col?.destroy();
    this.val?.destroy();
    this.entries = entries;
    this.col = createBuffer(this.device, entries * 4, USAGE.STORAGE | USAGE.COPY_DST, 'online col');
    this.val = createBuffer(this.device, entries * 4, USAGE.STORAGE | USAGE.COPY_DST, 'online val');
    this.version++;
  }

  buffers() {
    return { rowPtr: this.rowPtr, col: this.col!, val: this.val! };
  }

  setState(state: StreamState) {
    this.rng = Rng.fromState(state);
  }

  prepare(steps: number) {
    if (!this.rng) throw new Error('HostBatches: no stream state');
    if (steps > this.maxSteps) throw new Error(`HostBatches: ${steps} steps at once, at most ${this.maxSteps}`);
    const batches: SparsePoints[] = [];
    let total = 0;
    let most = 0;
    for (let k = 0; k < steps; k++) {
      const b = generatePoints({ n: this.n, sparsity: this.sparsity }, this.points, this.rng);
      batches.push(b);
      total += b.col.length;
      most = Math.max(most, b.col.length);
    }
    if (most > this.nnzCap) {
      this.nnzCap = Math.ceil(most * 1.25);
      this.version++;
    }
    if (total > this.entries) this.grow(Math.max(total, this.maxSteps * this.nnzCap));
    const B = this.points;
    const rowPtr = new Uint32Array(steps * (B + 1));
    const col = new Uint32Array(Math.max(1, total));
    const val = new Float32Array(Math.max(1, total));
    let at = 0;
    batches.forEach((b, k) => {
      for (let t = 0; t <= B; t++) rowPtr[k * (B + 1) + t] = at + b.rowPtr[t];
      col.set(b.col, at);
      val.set(b.val, at);
      at += b.col.length;
    });
    const q = this.device.queue;
    q.writeBuffer(this.rowPtr, 0, rowPtr.buffer, 0, rowPtr.byteLength);
    q.writeBuffer(this.col!, 0, col.buffer, 0, col.byteLength);
    q.writeBuffer(this.val!, 0, val.buffer, 0, val.byteLength);
  }

  encode(): void {}

  rowBase(k: number) {
    return k * (this.points + 1);
  }

  state(): StreamState {
    if (!this.rng) throw new Error('HostBatches: no stream state');
    return this.rng.state();
  }

  destroy() {
    this.rowPtr.destroy();
    this.col?.destroy();
    this.val?.destroy();
  }
}

function onlineData(device: GPUDevice, n: number, source: BatchSource): DeviceData {
  const cap = source.nnzCap;
  const { rowPtr, col, val } = source.buffers();
  const csc = createBuffer(device, (n + 1 + 2 * cap) * 4, USAGE.STORAGE, 'online csc');
  const counts = createBuffer(device, 2 * n * 4, USAGE.STORAGE, 'transpose counts');
  const tmp = createBuffer(device, 2 * cap * 4, USAGE.STORAGE, 'transpose tmp');
  return { id: nextDataId++, T: source.points, nnzCap: cap, rowPtr, col, val, csc, cscPerm: n + 1, cscRow: n + 1 + cap, transpose: { counts, tmp }, own: [csc, counts, tmp] };
}

// ---------------------------------------------------------------------------------------------
// Geometry: how a step's work is cut (depends on n, m, T, entries and inits only)

export interface Geometry {
  T: number;
  nTiles: number; // tiles of WG * F features
  segLen: number; // points per segment
  nSeg: number;
  R: number; // ranges of points per segment
  RL: number; // points per range (a multiple of PB)
  initsPerGroup: number;
  offsets: { oH: number; oGH: number; oGHp: number; oGWp: number; oDD: number; oFix: number; oLossP: number; oGS: number; oGrad: number };
  wStride: number; // work floats per init
}

export function geometry(n: number, m: number, T: number, nnzCap: number, inits: number, maxBindingBytes: number, opts: GpuEngineOptions = {}): Geometry {
  const { F, PB } = denseShape(m);
  const nTiles = Math.ceil(n / (WG * F));
  const maxFloats = Math.floor(Math.min(maxBindingBytes, 2 ** 32 - 16) / 4);
  const layout = (segLen: number) => {
    let R = Math.max(1, Math.min(MAX_RANGES, Math.ceil(TARGET_WORKGROUPS / nTiles), Math.ceil(segLen / PB)));
    const RL = Math.ceil(Math.ceil(segLen / R) / PB) * PB;
    R = Math.ceil(segLen / RL);
    const sizes = { oH: segLen * m, oGH: segLen * m, oGHp: nTiles * segLen * m, oGWp: R * (m + 1) * n, oDD: Math.max(1, nnzCap), oFix: T, oLossP: R * nTiles, oGS: (m + 1) * n, oGrad: (m + 1) * n };
    const offsets = {} as Geometry['offsets'];
    let at = 0;
    for (const [k, v] of Object.entries(sizes)) {
      offsets[k as keyof Geometry['offsets']] = at;
      at += Math.ceil(v / 4) * 4;
    }
    return { R, RL, offsets, wStride: at };
  };
  let segLen = Math.min(T, opts.maxSegmentPoints ?? T, 64 * 65535);
  let l = layout(segLen);
  while (l.wStride > maxFloats && segLen > PB) {
    segLen = Math.ceil(segLen / 2);
    l = layout(segLen);
  }
  if (l.wStride > maxFloats) throw new Error(`gpu engine: one init's work buffer (${l.wStride * 4} bytes) exceeds the device's storage binding limit (${maxBindingBytes})`);
  const initsPerGroup = Math.max(1, Math.min(inits, Math.floor(maxFloats / l.wStride), opts.maxInitsPerGroup ?? inits));
  return { T, nTiles, segLen, nSeg: Math.ceil(T / segLen), R: l.R, RL: l.RL, initsPerGroup, offsets: l.offsets, wStride: l.wStride };
}

// ---------------------------------------------------------------------------------------------
// The engine

export async function createGpuEngine(opts: GpuEngineOptions = {}): Promise<Engine & { close(): Promise<void> }> {
  const ctx = await requestDevice();
  const kernels = new Map<number, Promise<Kernels>>();
  const kernelsFor = (m: number) => {
    let k = kernels.get(m);
    if (!k) {
      k = createKernels(ctx.device, m);
      kernels.set(m, k);
    }
    return k;
  };
  return {
    name: 'gpu',
    version: GPU_ENGINE_VERSION,
    async open(options: SessionOptions): Promise<GpuSession> {
      const first = options.resume?.[0]?.params ?? options.inits[0];
      if (!first) throw new Error('gpu engine: a session needs at least one init');
      return new GpuSession(ctx, await kernelsFor(first.m), options, opts);
    },
    async close() {
      await ctx.device.queue.onSubmittedWorkDone();
      ctx.device.destroy();
    },
  };
}

export const createEngine = () => createGpuEngine();

interface Group {
  initBase: number;
  count: number;
  work: GPUBuffer;
  dims: GPUBuffer;
  bind: GPUBindGroup;
}

interface Plan {
  dataId: number;
  lossesBuffer: GPUBuffer;
  geo: Geometry;
  groups: Group[];
  segs: GPUBuffer;
  records: GPUBindGroup;
  transpose?: { bind: GPUBindGroup; dims: GPUBuffer };
  destroy(): void;
}

/** Where a run spends its time (see timing.ts). */
export interface RunTiming {
  encodeMs: number; // CPU time encoding and submitting
  waitMs: number; // waiting for the device (flow control and the last command buffer)
  readbackMs: number; // mapping the losses and snapshots
}

export class GpuSession implements EngineSession {
  readonly inits: number;
  readonly n: number;
  readonly m: number;
  private readonly device: GPUDevice;
  private readonly pStride: number;
  private readonly P: GPUBuffer;
  private readonly MV: GPUBuffer;
  private readonly consts: GPUBuffer;
  private readonly records: GPUBuffer;
  private losses: GPUBuffer;
  private lossSlots = 0;
  private plan: Plan | null = null;
  private fixed: { points: SparsePoints; data: DeviceData } | null = null;
  private online: { source: BatchSource; key: string; data: DeviceData | null; version: number } | null = null;
  private t: number;
  private beta1Power: number;
  private beta2Power: number;
  private disposed = false;

  constructor(
    private readonly ctx: GpuContext,
    private readonly kernels: Kernels,
    private readonly options: SessionOptions,
    private readonly engineOpts: GpuEngineOptions,
  ) {
    const { inits, opt, schedule, resume } = options;
    const starts: Params[] = resume ? resume.map((r) => r.params) : [...inits];
    if (resume && resume.length !== inits.length) throw new Error(`gpu engine: ${resume.length} resume states for ${inits.length} inits`);
    this.inits = starts.length;
    this.n = starts[0].n;
    this.m = starts[0].m;
    for (const p of starts) if (p.n !== this.n || p.m !== this.m) throw new Error('gpu engine: the inits of a session differ in n or m');
    this.device = ctx.device;
    const { n, m } = this;
    this.pStride = (m + 1) * n;
    const P = new Float32Array(this.inits * this.pStride);
    const MV = new Float32Array(this.inits * 2 * this.pStride);
    starts.forEach((p, z) => writeParams(P, z * this.pStride, p));
    if (resume) {
      resume.forEach((r, z) => {
        writeFlat(MV, z * 2 * this.pStride, n, m, r.m);
        writeFlat(MV, z * 2 * this.pStride + this.pStride, n, m, r.v);
      });
    }
    const r0 = resume?.[0];
    this.t = r0?.t ?? 0;
    this.beta1Power = r0?.beta1Power ?? 1;
    this.beta2Power = r0?.beta2Power ?? 1;
    if (resume) for (const r of resume) if (r.t !== this.t) throw new Error('gpu engine: resume states at different steps');
    this.P = upload(this.device, P, USAGE.STORAGE | USAGE.COPY_SRC, 'P');
    this.MV = upload(this.device, MV, USAGE.STORAGE | USAGE.COPY_SRC, 'moments');
    this.consts = upload(this.device, stepConstants(schedule, opt, this.t, this.beta1Power, this.beta2Power), USAGE.STORAGE, 'step constants');
    this.records = createBuffer(this.device, (STEPS_PER_SUBMIT + 1) * RECORD, USAGE.UNIFORM | USAGE.COPY_DST, 'step records');
    this.losses = createBuffer(this.device, 16, USAGE.STORAGE | USAGE.COPY_SRC, 'losses');
  }

  /** The step the next span starts at. */
  get step(): number {
    return this.t;
  }

  // -- data and plans ---------------------------------------------------------------------------

  private fixedData(points: SparsePoints): DeviceData {
    if (points.n !== this.n) throw new Error(`gpu engine: points of ${points.n} features for a model of ${this.n}`);
    if (this.fixed?.points === points) return this.fixed.data;
    if (this.fixed) this.retire(this.fixed.data);
    this.fixed = { points, data: fixedData(this.device, points) };
    return this.fixed.data;
  }

  private onlineSource(n: number, sparsity: number, batch: number): BatchSource {
    if (n !== this.n) throw new Error(`gpu engine: online points of ${n} features for a model of ${this.n}`);
    const key = `${sparsity}/${batch}`;
    if (this.online?.key !== key) {
      this.dropOnline();
      const make = this.engineOpts.onlineSource ?? deviceBatches;
      this.online = { source: make(this.device, { n, sparsity, batch, maxSteps: STEPS_PER_SUBMIT }), key, data: null, version: -1 };
    }
    return this.online.source;
  }

  private onlineData(): DeviceData {
    const o = this.online!;
    if (!o.data || o.version !== o.source.version) {
      if (o.data) this.retire(o.data);
      o.data = onlineData(this.device, this.n, o.source);
      o.version = o.source.version;
    }
    return o.data;
  }

  private dropOnline() {
    if (!this.online) return;
    if (this.online.data) this.retire(this.online.data);
    this.online.source.destroy();
    this.online = null;
  }

  private retire(data: DeviceData) {
    if (this.plan?.dataId === data.id) {
      this.plan.destroy();
      this.plan = null;
    }
    for (const b of data.own) b.destroy();
  }

  private ensureLossSlots(slots: number) {
    if (slots <= this.lossSlots) return;
    this.lossSlots = Math.max(slots, 2 * this.lossSlots);
    this.losses.destroy();
    this.losses = createBuffer(this.device, this.lossSlots * this.inits * 4, USAGE.STORAGE | USAGE.COPY_SRC, 'losses');
    if (this.plan) {
      this.plan.destroy();
      this.plan = null;
    }
  }

  private planFor(data: DeviceData): Plan {
    if (this.plan && this.plan.dataId === data.id && this.plan.lossesBuffer === this.losses) return this.plan;
    this.plan?.destroy();
    const { device, kernels, n, m, inits, pStride } = this;
    const { opt } = this.options;
    const geo = geometry(n, m, data.T, data.nnzCap, inits, Math.min(this.ctx.limits.maxStorageBufferBindingSize, this.ctx.limits.maxBufferSize), this.engineOpts);
    const groups: Group[] = [];
    for (let initBase = 0; initBase < inits; initBase += geo.initsPerGroup) {
      const count = Math.min(geo.initsPerGroup, inits - initBase);
      const work = createBuffer(device, count * geo.wStride * 4, USAGE.STORAGE | USAGE.COPY_SRC, 'work');
      const d = new ArrayBuffer(128);
      const du = new Uint32Array(d);
      const df = new Float32Array(d);
      const o = geo.offsets;
      du.set([n, data.T, geo.nTiles, geo.R, geo.RL, geo.segLen, geo.nSeg, pStride, geo.wStride, o.oH, o.oGH, o.oGHp, o.oGWp, o.oDD, o.oFix, o.oLossP, o.oGS, o.oGrad, initBase, inits, data.cscPerm, data.cscRow]);
      df[22] = 2 / data.T;
      df[23] = data.T;
      df[24] = opt.beta1;
      df[25] = opt.beta2;
      df[26] = opt.eps;
      const dims = upload(device, du, USAGE.UNIFORM, 'dims');
      const bind = device.createBindGroup({
        layout: kernels.trainLayout,
        entries: [this.P, this.MV, work, data.rowPtr, data.col, data.val, data.csc, this.consts, this.losses, dims].map((b, binding) => ({ binding, resource: { buffer: b } })),
      });
      groups.push({ initBase, count, work, dims, bind });
    }
    const segRecords = new Uint32Array((geo.nSeg * RECORD) / 4);
    for (let s = 0; s < geo.nSeg; s++) {
      const t0 = s * geo.segLen;
      segRecords.set([t0, Math.min(geo.segLen, data.T - t0), s, s === geo.nSeg - 1 ? 1 : 0], (s * RECORD) / 4);
    }
    const segs = upload(device, segRecords, USAGE.UNIFORM, 'segment records');
    const records = device.createBindGroup({
      layout: kernels.recordLayout,
      entries: [
        { binding: 0, resource: { buffer: this.records, size: 16 } },
        { binding: 1, resource: { buffer: segs, size: 16 } },
      ],
    });
    let transpose: Plan['transpose'];
    if (data.transpose) {
      const td = upload(device, new Uint32Array([n, data.T, data.nnzCap, data.cscPerm, data.cscRow, 0, 0, 0]), USAGE.UNIFORM, 'transpose dims');
      const bind = device.createBindGroup({
        layout: kernels.transposeLayout,
        entries: [data.rowPtr, data.col, data.transpose.counts, data.csc, data.transpose.tmp, td].map((b, binding) => ({ binding, resource: { buffer: b } })),
      });
      transpose = { bind, dims: td };
    }
    this.plan = {
      dataId: data.id,
      lossesBuffer: this.losses,
      geo,
      groups,
      segs,
      records,
      transpose,
      destroy() {
        for (const g of groups) {
          g.work.destroy();
          g.dims.destroy();
        }
        segs.destroy();
        transpose?.dims.destroy();
      },
    };
    return this.plan;
  }

  // -- encoding ---------------------------------------------------------------------------------

  /** One step: the batch's CSC (online), the segments' passes for every group of inits, the update (or the gradient), the loss. */
  private encodeStep(pass: GPUComputePassEncoder, plan: Plan, data: DeviceData, k: number, withLoss: boolean, gradientOnly = false) {
    const { kernels: K, n } = this;
    const { geo } = plan;
    const at = k * RECORD;
    const wgs = (x: number) => Math.ceil(x / 64);
    if (plan.transpose) {
      pass.setBindGroup(0, plan.transpose.bind);
      pass.setBindGroup(1, plan.records, [at, 0]);
      pass.setPipeline(K.clear);
      pass.dispatchWorkgroups(wgs(2 * n));
      pass.setPipeline(K.count);
      pass.dispatchWorkgroups(wgs(data.T));
      pass.setPipeline(K.scan);
      pass.dispatchWorkgroups(1);
      pass.setPipeline(K.fill);
      pass.dispatchWorkgroups(wgs(data.T));
      pass.setPipeline(K.rank);
      pass.dispatchWorkgroups(wgs(data.nnzCap));
    }
    for (let s = 0; s < geo.nSeg; s++) {
      const len = Math.min(geo.segLen, data.T - s * geo.segLen);
      for (const g of plan.groups) {
        pass.setBindGroup(0, g.bind);
        pass.setBindGroup(1, plan.records, [at, s * RECORD]);
        pass.setPipeline(K.hidden);
        pass.dispatchWorkgroups(wgs(len), 1, g.count);
        pass.setPipeline(withLoss ? K.denseLoss : K.dense);
        pass.dispatchWorkgroups(geo.nTiles, geo.R, g.count);
        pass.setPipeline(K.point);
        pass.dispatchWorkgroups(wgs(len), 1, g.count);
        if (s < geo.nSeg - 1) {
          pass.setPipeline(K.sparse);
          pass.dispatchWorkgroups(wgs(n), 1, g.count);
        }
      }
    }
    for (const g of plan.groups) {
      pass.setBindGroup(0, g.bind);
      pass.setBindGroup(1, plan.records, [at, (geo.nSeg - 1) * RECORD]);
      pass.setPipeline(gradientOnly ? K.gradientOut : K.update);
      pass.dispatchWorkgroups(wgs(n), 1, g.count);
      if (withLoss) {
        pass.setPipeline(K.loss);
        pass.dispatchWorkgroups(1, 1, g.count);
      }
    }
  }

  // -- the session ------------------------------------------------------------------------------

  run(span: Span): Promise<SpanResult> {
    return this.runTimed(span);
  }

  /** run(), adding where the time went to `timing` when given. */
  async runTimed(span: Span, timing?: RunTiming): Promise<SpanResult> {
    if (this.disposed) throw new Error('gpu engine: the session is disposed');
    const { from, to, data: spanData, lossSteps, snapshotSteps } = span;
    if (from !== this.t) throw new Error(`gpu engine: the span starts at step ${from} but the session is at step ${this.t}`);
    if (to < from || to > this.options.schedule.length) throw new Error(`gpu engine: span [${from}, ${to}) outside the schedule of ${this.options.schedule.length} steps`);
    const { device, inits } = this;
    const clock = () => performance.now();
    const lossSlot = new Map<number, number>();
    lossSteps.forEach((s, i) => {
      if (s < from || s >= to) throw new Error(`gpu engine: loss step ${s} outside the span [${from}, ${to})`);
      lossSlot.set(s, i);
    });
    const snapSlot = new Map<number, number>();
    snapshotSteps.forEach((s, i) => {
      if (s < from || s > to) throw new Error(`gpu engine: snapshot step ${s} outside [${from}, ${to}]`);
      snapSlot.set(s, i);
    });
    this.ensureLossSlots(Math.max(1, lossSteps.length));
    const pBytes = inits * this.pStride * 4;
    const snaps = snapshotSteps.length > 0 ? createBuffer(device, snapshotSteps.length * pBytes, USAGE.MAP_READ | USAGE.COPY_DST, 'snapshots') : null;
    let source: BatchSource | null = null;
    if (spanData.kind === 'online') {
      source = this.onlineSource(spanData.n, spanData.sparsity, spanData.batch);
      source.setState(spanData.stream);
    }
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    const inFlight: Promise<undefined>[] = [];
    let t0 = clock();
    const snapshot = (enc: GPUCommandEncoder, s: number) => {
      const i = snapSlot.get(s);
      if (i !== undefined) enc.copyBufferToBuffer(this.P, 0, snaps!, i * pBytes, pBytes);
    };
    if (from === to) {
      const enc = device.createCommandEncoder();
      snapshot(enc, to);
      device.queue.submit([enc.finish()]);
    }
    for (let c0 = from; c0 < to; c0 += STEPS_PER_SUBMIT) {
      const count = Math.min(STEPS_PER_SUBMIT, to - c0);
      let data: DeviceData;
      if (source) {
        source.prepare(count);
        data = this.onlineData();
      } else {
        data = this.fixedData((spanData as { points: SparsePoints }).points);
      }
      const plan = this.planFor(data);
      const rec = new Uint32Array((count * RECORD) / 4);
      for (let k = 0; k < count; k++) rec.set([c0 + k, source ? source.rowBase(k) : 0, lossSlot.get(c0 + k) ?? NONE, 0], (k * RECORD) / 4);
      device.queue.writeBuffer(this.records, 0, rec.buffer, 0, rec.byteLength);
      const enc = device.createCommandEncoder();
      for (let k = 0; k < count; k++) {
        const s = c0 + k;
        snapshot(enc, s);
        source?.encode(enc, k);
        const pass = enc.beginComputePass();
        this.encodeStep(pass, plan, data, k, lossSlot.has(s));
        pass.end();
      }
      if (c0 + count === to) snapshot(enc, to);
      device.queue.submit([enc.finish()]);
      this.advance(count);
      inFlight.push(device.queue.onSubmittedWorkDone());
      if (inFlight.length > IN_FLIGHT) {
        if (timing) timing.encodeMs += clock() - t0;
        t0 = clock();
        await inFlight.shift();
        if (timing) timing.waitMs += clock() - t0;
        t0 = clock();
      }
    }
    let lossStaging: GPUBuffer | null = null;
    if (lossSteps.length > 0) {
      lossStaging = createBuffer(device, lossSteps.length * inits * 4, USAGE.MAP_READ | USAGE.COPY_DST, 'losses read-back');
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(this.losses, 0, lossStaging, 0, padded(lossSteps.length * inits * 4));
      device.queue.submit([enc.finish()]);
    }
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    if (invalid || oom) throw new Error(`gpu engine: ${(invalid ?? oom)!.message}`);
    await source?.finish?.();
    const stream = source ? await source.state() : null;
    if (timing) {
      timing.encodeMs += clock() - t0;
      t0 = clock();
      await device.queue.onSubmittedWorkDone();
      timing.waitMs += clock() - t0;
      t0 = clock();
    }
    const losses: Float64Array[] = Array.from({ length: inits }, () => new Float64Array(lossSteps.length));
    if (lossStaging) {
      await lossStaging.mapAsync(MAP_MODE_READ);
      const l = new Float32Array(lossStaging.getMappedRange(0, lossSteps.length * inits * 4));
      for (let i = 0; i < lossSteps.length; i++) for (let z = 0; z < inits; z++) losses[z][i] = l[i * inits + z];
      lossStaging.unmap();
      lossStaging.destroy();
    }
    const snapshots: Params[][] = Array.from({ length: inits }, () => []);
    if (snaps) {
      await snaps.mapAsync(MAP_MODE_READ);
      const all = new Float32Array(snaps.getMappedRange(0, snapshotSteps.length * pBytes));
      for (let i = 0; i < snapshotSteps.length; i++) {
        for (let z = 0; z < inits; z++) snapshots[z].push(readParams(all, (i * inits + z) * this.pStride, this.n, this.m));
      }
      snaps.unmap();
      snaps.destroy();
    }
    if (timing) timing.readbackMs += clock() - t0;
    return { losses, snapshots, stream };
  }

  /** The host's copy of the optimiser's counters, as the constants of the steps just encoded assumed. */
  private advance(steps: number) {
    const { beta1, beta2 } = this.options.opt;
    for (let i = 0; i < steps; i++) {
      this.t += 1;
      this.beta1Power *= beta1;
      this.beta2Power *= beta2;
    }
  }

  async gradient(points: SparsePoints): Promise<{ loss: number; grad: Params }[]> {
    const { device, inits, n, m } = this;
    this.ensureLossSlots(1);
    const data = fixedData(device, points);
    const plan = this.planFor(data);
    device.pushErrorScope('validation');
    device.queue.writeBuffer(this.records, 0, new Uint32Array([this.t, 0, 0, 0]));
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    this.encodeStep(pass, plan, data, 0, true, true);
    pass.end();
    device.queue.submit([enc.finish()]);
    const error = await device.popErrorScope();
    if (error) throw new Error(`gpu engine: ${error.message}`);
    const out: { loss: number; grad: Params }[] = [];
    const lossBits = new Float32Array(await readBack(device, this.losses, 0, inits * 4));
    for (const g of plan.groups) {
      const work = new Float32Array(await readBack(device, g.work, 0, g.count * plan.geo.wStride * 4));
      for (let z = 0; z < g.count; z++) {
        out.push({ loss: lossBits[g.initBase + z], grad: readParams(work, z * plan.geo.wStride + plan.geo.offsets.oGrad, n, m) });
      }
    }
    this.retire(data);
    return out;
  }

  async params(): Promise<Params[]> {
    const P = new Float32Array(await readBack(this.device, this.P, 0, this.inits * this.pStride * 4));
    return Array.from({ length: this.inits }, (_, z) => readParams(P, z * this.pStride, this.n, this.m));
  }

  async state(): Promise<SessionState[]> {
    const { n, m, pStride } = this;
    const P = new Float32Array(await readBack(this.device, this.P, 0, this.inits * pStride * 4));
    const MV = new Float32Array(await readBack(this.device, this.MV, 0, this.inits * 2 * pStride * 4));
    return Array.from({ length: this.inits }, (_, z) => ({
      params: readParams(P, z * pStride, n, m),
      m: readFlat(MV, z * 2 * pStride, n, m),
      v: readFlat(MV, z * 2 * pStride + pStride, n, m),
      t: this.t,
      beta1Power: this.beta1Power,
      beta2Power: this.beta2Power,
    }));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.device.queue.onSubmittedWorkDone();
    this.plan?.destroy();
    this.plan = null;
    if (this.fixed) for (const b of this.fixed.data.own) b.destroy();
    this.dropOnline();
    for (const b of [this.P, this.MV, this.consts, this.records, this.losses]) b.destroy();
  }
}

/**
 * AdamW's per-step constants, step s at [8s, 8s + 5): lr, the decay of W, the decay of b, c1, c2 -
 * computed in float64 as the fast engine does (t += 1; beta^t as running products; decay = 1 - lr wd,
 * 1 for b unless decayBias) from the state at step `t0`, then rounded to float32.
 */
export function stepConstants(schedule: Float64Array, opt: OptimiserSettings, t0: number, beta1Power: number, beta2Power: number): Float32Array {
  const out = new Float32Array(Math.max(1, schedule.length) * 8);
  let b1p = beta1Power;
  let b2p = beta2Power;
  for (let s = t0; s < schedule.length; s++) {
    b1p *= opt.beta1;
    b2p *= opt.beta2;
    const lr = schedule[s];
    const decay = 1 - lr * opt.weightDecay;
    out.set([lr, decay, opt.decayBias ? decay : 1, 1 - b1p, 1 - b2p], s * 8);
  }
  return out;
}

// Params (W feature-major, W[i*m + k]) <-> the device's rows (W row k at k*n, b at m*n).
function writeParams(dst: Float32Array, at: number, p: Params) {
  const { n, m, W, b } = p;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) dst[at + k * n + i] = W[i * m + k];
    dst[at + m * n + i] = b[i];
  }
}

function readParams(src: Float32Array, at: number, n: number, m: number): Params {
  const W = new Float64Array(n * m);
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) W[i * m + k] = src[at + k * n + i];
    b[i] = src[at + m * n + i];
  }
  return { n, m, W, b };
}

/** A flat moment vector (W feature-major, then b) into the device's rows. */
function writeFlat(dst: Float32Array, at: number, n: number, m: number, flat: Float64Array) {
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) dst[at + k * n + i] = flat[i * m + k];
    dst[at + m * n + i] = flat[n * m + i];
  }
}

function readFlat(src: Float32Array, at: number, n: number, m: number): Float64Array {
  const out = new Float64Array(n * m + n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) out[i * m + k] = src[at + k * n + i];
    out[n * m + i] = src[at + m * n + i];
  }
  return out;
}
