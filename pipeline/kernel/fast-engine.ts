import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { threadsForStep, type EngineSession, type OptimiserSettings, type SessionOptions, type SessionState, type Span, type SpanResult } from '../engines/engine.ts';
import type { StepEngine, StepSession } from '../engines/stepwise.ts';
import type { SparsePoints } from '../data/points.ts';
import type { Params } from '../model/toy-model.ts';
import { generatePoints } from '../data/generate.ts';
import { Rng } from '../prng/rng.ts';
import { CTX, SessionMemory, type PointsAt } from './session-memory.ts';
import { drawTables } from '../data/gaps.ts';
import { ThreadPool } from './thread-pool.ts';
import { UserError } from '../errors.ts';

/**
 * The fast engine: the fused kernel of assembly/kernel.ts (WebAssembly SIMD, float32) on
 * `threads` threads (this one and threads - 1 workers, thread-pool.ts) over one shared memory
 * (session-memory.ts).
 *
 * Determinism: a batch of T points is cut into chunks that depend on T alone
 * (chunkCount(T)); each chunk's gradient is computed by one thread into its own buffer, and
 * the buffers are summed in chunk order. So the bits are the same for 1, 2 or 8 threads.
 *
 * A session holds every init of a run in the kernel's memory, each with its own parameters,
 * moments and chunk buffers: a step's chunk call computes that chunk for every init, so the
 * inits share the step's synchronisation (and its batch, drawn once). Each init's arithmetic is
 * exactly that of a session of its own. A step on one thread (few pairs: threadsForStep) runs
 * in the kernel with the rest of its span, the learning rates read from the schedule in
 * memory: one call per span (or per stretch between the span's snapshots).
 */
export const KERNEL_WASM = fileURLToPath(new URL('./build/kernel.wasm', import.meta.url));
const MAX_CHUNKS = 16;
/**
 * Points of a chunk, where T leaves fewer than MAX_CHUNKS of them. A chunk costs its points plus
 * a fixed part: its gradient buffer zeroed, then read when the chunks are summed, n (m + 1)
 * floats each time. At 64 (version 3; 8 before) a step of T = 200 has 4 chunks instead of 16,
 * and every T from 1,024 up keeps 16: measured 1.23-1.34x faster at T = 200, 1.1x at T = 50-100.
 */
const POINTS_PER_CHUNK = 64;
/** Steps of one trainSteps call at most (its loss outputs hold this many). */
const SEGMENT = 1024;

export const chunkCount = (T: number) => Math.max(1, Math.min(MAX_CHUNKS, Math.ceil(T / POINTS_PER_CHUNK)));

/** The kernel's exports (assembly/kernel.ts). */
interface Kernel {
  scratchBytes(m: number): number;
  reduceChunks(G0: number, stride: number, chunks: number, from: number, to: number, scale: number): void;
  chunkAll(ctx: number, c: number, thread: number): void;
  claimChunks(ctx: number, thread: number): number;
  runUnit(ctx: number, u: number): void;
  stepUnits(ctx: number): number;
  beginStep(ctx: number, lr: number): void;
  finishUnit(ctx: number, u: number): void;
  stepLosses(ctx: number, lossOut: number): void;
  trainSteps(ctx: number, schedule: number, from: number, to: number, withLoss: number, lossOut: number): void;
  drawPoints(rng: number, table: number, buckets: number, n: number, count: number, rowPtr: number, col: number, val: number, cap: number, pointVal: number): number;
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
  const pool = new ThreadPool(module, memory, kernel, threads);
  let live = false;
  /** The kernel memory laid out for a run of `inits` inits (one session at a time: there is one memory), and its release. */
  function claim(n: number, m: number, inits: number, scheduleSteps: number): { mem: SessionMemory; release: () => void } {
    if (live) throw new Error('the fast engine runs one session at a time');
    const mem = new SessionMemory(memory, n, m, inits, MAX_CHUNKS, threads, kernel.scratchBytes(m), SEGMENT, scheduleSteps);
    live = true;
    return { mem, release: () => void (live = false) };
  }
  return {
    name: 'fast',
    version: `3/wasm-simd-f32/chunks-${MAX_CHUNKS}x${POINTS_PER_CHUNK}`,
    openStep(init: Params, opt: OptimiserSettings, resume?: SessionState): StepSession {
      const from = resume?.params ?? init;
      const { mem, release } = claim(from.n, from.m, 1, 0);
      try {
        return stepSession(new Run(kernel, pool, mem, opt, [from], resume ? [resume] : undefined), release);
      } catch (e) {
        release();
        throw e;
      }
    },
    async open(options: SessionOptions): Promise<EngineSession> {
      const { inits, opt, schedule, resume } = options;
      if (resume && resume.length !== inits.length) throw new RangeError(`fast engine: ${resume.length} saved states for ${inits.length} inits`);
      const starts = inits.map((p, i) => resume?.[i]?.params ?? p);
      const { mem, release } = claim(starts[0].n, starts[0].m, inits.length, schedule.length);
      try {
        mem.writeSchedule(schedule);
        return runSession(new Run(kernel, pool, mem, opt, starts, resume), schedule, release);
      } catch (e) {
        release();
        throw e;
      }
    },
    close: () => pool.close(),
  };
}

export const createEngine = (workers: number): Promise<StepEngine> => createFastEngine(workers);

/** Every init of one run in the kernel's memory, and the ways of stepping them. */
class Run {
  /** Chunks of the points in use, and the threads a step on them takes. */
  private chunks = 1;
  private T = 0;
  private threads = 1;

  constructor(private readonly kernel: Kernel, private readonly pool: ThreadPool, readonly mem: SessionMemory, opt: OptimiserSettings, from: readonly Params[], resume: readonly SessionState[] | undefined) {
    from.forEach((p, i) => {
      if (p.n !== mem.n || p.m !== mem.m) throw new RangeError(`fast engine: init ${i} is ${p.n}x${p.m}, init 0 ${mem.n}x${mem.m}`);
      mem.write(mem.P(i), p.W, p.b);
      const r = resume?.[i];
      if (r) {
        mem.writeFlat(mem.M(i), r.m);
        mem.writeFlat(mem.V(i), r.v);
      } else {
        mem.zero(mem.M(i));
        mem.zero(mem.V(i));
      }
    });
    mem.writeContext(opt, from.map((_, i) => resume?.[i] ?? { t: 0, beta1Power: 1, beta2Power: 1 }));
  }

  get inits(): number {
    return this.mem.inits;
  }

  /** Trains on `batch` from now on (copied into points slot `slot`, unless it is already there). */
  use(batch: SparsePoints, slot = 0): void {
    this.useAt(this.mem.load(batch, slot), batch.count);
  }

  /** Trains on the `count` points at `at` from now on. */
  useAt(at: PointsAt, count: number): void {
    this.T = count;
    this.chunks = chunkCount(count);
    this.threads = Math.min(threadsForStep(this.pool.threads, count * this.mem.n), this.chunks);
    this.mem.usePoints(at, this.T, this.chunks);
  }

  /** Draws the next online batch in the kernel, into points slot `slot` (a KernelDraw's). */
  draw(d: KernelDraw, slot: number): PointsAt {
    const { mem, kernel } = this;
    const area = mem.drawArea();
    const words = new Int32Array(mem.i32().buffer, area.rng, 4);
    const before = Array.from(words);
    for (;;) {
      const at = mem.reserve(slot, d.batch, d.room);
      if (kernel.drawPoints(area.rng, area.table, area.buckets, mem.n, d.batch, at.rowPtr, at.col, at.val, mem.room(slot), area.pointVal) >= 0) return at;
      new Int32Array(mem.i32().buffer, area.rng, 4).set(before); // too many active features: again, with twice the room
      d.room *= 2;
    }
  }

  /** Whether a step on the points in use takes more than this thread. */
  get threaded(): boolean {
    return this.threads > 1;
  }

  /**
   * A step of every init at rate lr: the chunks (with `withLoss`, their losses), then AdamW;
   * runs `meanwhile` on this thread while the others compute. Returns each init's loss (NaN
   * without `withLoss`).
   */
  step(lr: number, withLoss: boolean, meanwhile?: () => void): number[] {
    const { kernel } = this;
    kernel.beginStep(CTX, lr);
    const units = kernel.stepUnits(CTX);
    this.mem.setPass(withLoss, units);
    if (this.threads > 1) this.pool.run(this.threads, this.chunks, units, meanwhile);
    else {
      meanwhile?.();
      for (let c = 0; c < this.chunks; c++) kernel.chunkAll(CTX, c, 0);
      for (let u = 0; u < units; u++) kernel.finishUnit(CTX, u);
    }
    if (!withLoss) return new Array<number>(this.inits).fill(NaN);
    kernel.stepLosses(CTX, this.mem.lossOut);
    return Array.from(this.mem.f64().subarray(this.mem.lossOut >> 3, (this.mem.lossOut >> 3) + this.inits));
  }

  /**
   * Steps from..to-1 on this thread alone in the kernel, in calls of at most a segment of
   * steps; `withLoss(s)`: whether step s's loss is wanted; `got(s, losses)` receives it.
   */
  steps(from: number, to: number, withLoss: (s: number) => boolean, got: (s: number, losses: Float64Array) => void): void {
    const { mem } = this;
    for (let a = from; a < to; a += mem.segment) {
      const b = Math.min(to, a + mem.segment);
      const flags = mem.u8().subarray(mem.flags, mem.flags + (b - a));
      for (let s = a; s < b; s++) flags[s - a] = withLoss(s) ? 1 : 0;
      this.kernel.trainSteps(CTX, mem.schedule, a, b, mem.flags, mem.lossOut);
      const out = mem.f64();
      for (let s = a; s < b; s++) if (withLoss(s)) got(s, out.subarray((mem.lossOut >> 3) + (s - a) * this.inits, (mem.lossOut >> 3) + (s - a + 1) * this.inits));
    }
  }

  /** Each init's loss and gradient at its current parameters (withLoss chunk pass, then the chunks summed). */
  gradient(): { loss: number; grad: Params }[] {
    this.mem.setPass(true, 0);
    if (this.threads > 1) this.pool.run(this.threads, this.chunks, 0);
    else for (let c = 0; c < this.chunks; c++) this.kernel.chunkAll(CTX, c, 0);
    const { mem } = this;
    return Array.from({ length: this.inits }, (_, i) => {
      this.kernel.reduceChunks(mem.G(i), mem.chunkStride, this.chunks, 0, mem.floats, 2 / this.T);
      let total = 0;
      for (const l of mem.chunkLosses(i, this.chunks)) total += l;
      return { loss: total / this.T, grad: this.paramsAt(mem.G(i)) };
    });
  }

  paramsAt(ptr: number): Params {
    return { n: this.mem.n, m: this.mem.m, ...this.mem.read(ptr) };
  }

  state(i: number): SessionState {
    const { mem } = this;
    return { params: this.paramsAt(mem.P(i)), m: mem.readFlat(mem.M(i)), v: mem.readFlat(mem.V(i)), ...mem.stateOf(i) };
  }
}

type OnlineData = Extract<Span['data'], { kind: 'online' }>;

/** Gap tables of (n, S), computed once per process: about 50,000 logarithms each. */
const tablesMade = new Map<string, ReturnType<typeof drawTables>>();

/**
 * A span's online batches drawn in the kernel (assembly/kernel.ts drawPoints): the stream's state
 * and the gap tables of (n, S) written to the session's draw area; `stream()` reads the state
 * back as Rng.state() gives it. Drawing 1,000 points of n = 1,000 at S = 0.99 took about as long
 * in JavaScript as the step that trains on them.
 */
class KernelDraw {
  /** Whether the kernel can draw these batches (0 < S < 1: S = 0 and 1 have no gap thresholds). */
  static fits(data: OnlineData): boolean {
    return data.sparsity > 0 && data.sparsity < 1;
  }

  readonly batch: number;
  /** Active features a slot makes room for: generatePoints' first guess, doubled whenever a batch has more. */
  room: number;

  constructor(private readonly run: Run, private readonly data: OnlineData) {
    const { mem } = run;
    if (data.n !== mem.n) throw new Error(`online batches of ${data.n} features, the model ${mem.n}`);
    const key = `${mem.n}/${data.sparsity}`;
    const tables = tablesMade.get(key) ?? drawTables(mem.n, data.sparsity);
    tablesMade.set(key, tables);
    const area = mem.drawArea();
    new BigUint64Array(mem.i32().buffer, area.table, mem.n).set(tables.thresholds);
    new Uint32Array(mem.i32().buffer, area.buckets, tables.buckets.length).set(tables.buckets);
    new Int32Array(mem.i32().buffer, area.rng, 4).set(data.stream.slice(0, 4) as number[]);
    this.batch = data.batch;
    this.room = Math.max(16, Math.ceil(data.batch * mem.n * (1 - data.sparsity) * 1.2) + 16);
  }

  /** The stream after the batches drawn, as Rng.state() gives it (the spare normal value passes through: no draw uses it). */
  stream(): (number | null)[] {
    const { mem } = this.run;
    const words = Array.from(new Int32Array(mem.i32().buffer, mem.drawArea().rng, 4));
    return [...words, this.data.stream.length > 4 ? this.data.stream[4] : null];
  }
}

/** One init stepped by the caller (the conformance tests' interface). A plain object: callers may copy its methods with a spread. */
function stepSession(run: Run, release: () => void): StepSession {
  return {
    step(batch: SparsePoints, lr: number, withLoss = true): number {
      run.use(batch);
      return run.step(lr, withLoss)[0];
    },
    gradient(batch: SparsePoints) {
      run.use(batch);
      return run.gradient()[0];
    },
    params: () => run.paramsAt(run.mem.P(0)),
    state: () => run.state(0),
    dispose: release,
  };
}

/** Every init of a run trained together, a span at a time (engine.ts). */
function runSession(run: Run, schedule: Float64Array, release: () => void): EngineSession {
  const k = run.inits;
  let disposed = false;
  return {
    inits: k,
    async run(span: Span): Promise<SpanResult> {
      const { from, to, data, lossSteps, snapshotSteps } = span;
      if (to > schedule.length) throw new RangeError(`fast engine: span to step ${to}, but the schedule has ${schedule.length} steps`);
      const losses = Array.from({ length: k }, () => new Float64Array(lossSteps.length));
      const snapshots: Params[][] = Array.from({ length: k }, () => []);
      const wanted = new Map(lossSteps.map((s, i) => [s, i]));
      const withLoss = (s: number) => wanted.has(s);
      const got = (s: number, l: ArrayLike<number>) => {
        for (let i = 0; i < k; i++) losses[i][wanted.get(s)!] = l[i];
      };
      const snapshot = () => {
        for (let i = 0; i < k; i++) snapshots[i].push(run.paramsAt(run.mem.P(i)));
      };
      const snaps = new Set(snapshotSteps);
      let stream: SpanResult['stream'] = null;

      if (from >= to) {
        if (snaps.has(to)) snapshot();
        if (data.kind === 'online') stream = [...data.stream];
      } else if (data.kind === 'fixed') {
        run.use(data.points);
        if (!run.threaded) {
          // The whole span in the kernel, stopping only at snapshots.
          let a = from;
          for (const s of snapshotSteps) {
            if (s > a) run.steps(a, s, withLoss, got), (a = s);
            snapshot();
          }
          if (a < to) run.steps(a, to, withLoss, got);
        } else {
          for (let s = from; s < to; s++) {
            if (snaps.has(s)) snapshot();
            const l = run.step(schedule[s], withLoss(s));
            if (withLoss(s)) got(s, l);
          }
          if (snaps.has(to)) snapshot();
        }
      } else if (KernelDraw.fits(data)) {
        // A fresh batch per step, the same for every init, drawn by the kernel as generatePoints
        // would draw it: the next one while the other threads compute this one's chunks (into
        // the other points slot).
        const d = new KernelDraw(run, data);
        let slot = 0;
        run.useAt(run.draw(d, slot), data.batch);
        for (let s = from; s < to; s++) {
          if (snaps.has(s)) snapshot();
          let next: PointsAt | null = null;
          const l = run.step(schedule[s], withLoss(s), () => {
            if (s + 1 < to) next = run.draw(d, 1 - slot);
          });
          if (withLoss(s)) got(s, l);
          if (next) run.useAt(next, data.batch), (slot = 1 - slot);
        }
        if (snaps.has(to)) snapshot();
        stream = d.stream();
      } else {
        // The same, drawn in JavaScript (S = 0 or 1, which have no gap thresholds).
        const rng = Rng.fromState(data.stream);
        const draw = () => generatePoints(data, data.batch, rng);
        let slot = 0;
        run.use(draw(), slot);
        for (let s = from; s < to; s++) {
          if (snaps.has(s)) snapshot();
          let next: SparsePoints | null = null;
          const l = run.step(schedule[s], withLoss(s), () => {
            if (s + 1 < to) run.mem.load((next = draw()), 1 - slot);
          });
          if (withLoss(s)) got(s, l);
          if (next) run.use(next, (slot = 1 - slot));
        }
        if (snaps.has(to)) snapshot();
        stream = rng.state();
      }
      return { losses, snapshots, stream };
    },
    async gradient(points: SparsePoints) {
      run.use(points);
      return run.gradient();
    },
    async params() {
      return Array.from({ length: k }, (_, i) => run.paramsAt(run.mem.P(i)));
    },
    async state() {
      return Array.from({ length: k }, (_, i) => run.state(i));
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      release();
    },
  };
}
