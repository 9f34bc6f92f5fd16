import type { SparsePoints } from '../data/points.ts';
import type { Params } from '../model/toy-model.ts';

/**
 * What every training engine does: full-batch steps of the toy model with AdamW, for every init
 * of a run at once, a span of steps at a time. The reference engine (reference.ts) is the
 * readable definition; pipeline/engines/registry.ts lists them all. An engine owns its training
 * loop: a device engine keeps its whole state on the device for a run and reads back only what a
 * span asks for (the losses of some steps, weights at some steps, the state for a checkpoint).
 */
export interface OptimiserSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decayBias: boolean;
}

/**
 * Everything needed to continue training exactly where it stopped: parameters and AdamW
 * moments (flat, W then b, in float64 even when an engine computes in float32, which holds
 * float32 values exactly), the step count and the running powers of the betas.
 */
export interface SessionState {
  params: Params;
  m: Float64Array; // first moments, length n*m + n
  v: Float64Array; // second moments
  t: number;
  beta1Power: number;
  beta2Power: number;
}

/** The state of an online stream (prng/rng.ts `Rng.state()`): four words and a spare normal value. */
export type StreamState = (number | null)[];

/**
 * The points of a span's steps: one fixed set for every step (finite T), or a fresh batch per
 * step (T = infinity) drawn by data/generate.ts `generatePoints({ n, sparsity }, batch, rng)` from
 * the stream whose state at the span's first step is `stream`. Every init of the run trains on
 * the same batches.
 */
export type SpanData =
  | { kind: 'fixed'; points: SparsePoints }
  | { kind: 'online'; n: number; sparsity: number; batch: number; stream: StreamState };

/** Steps `from` to `to` - 1 of a run (0-based; step s uses the session's schedule[s]). */
export interface Span {
  from: number;
  to: number;
  data: SpanData;
  /** Steps in [from, to), ascending, whose loss (at the weights before that step's update) the span returns. */
  lossSteps: readonly number[];
  /** Steps in [from, to], ascending, whose weights the span returns: s is before step s's update, `to` after the span's last. */
  snapshotSteps: readonly number[];
}

export interface SpanResult {
  /** losses[init][i]: init's loss at lossSteps[i], in the engine's arithmetic (a float64 loss is the model's). */
  losses: Float64Array[];
  /** snapshots[init][i]: init's weights at snapshotSteps[i]. */
  snapshots: Params[][];
  /** For online data: the stream's state after the span's last batch; null for fixed data. */
  stream: StreamState | null;
}

/** What a session starts from: every init of a run, the optimiser, and the learning rate of every step. */
export interface SessionOptions {
  inits: readonly Params[];
  opt: OptimiserSettings;
  /** schedule[s]: the learning rate of step s, for every step of the run (a device engine uploads it once). */
  schedule: Float64Array;
  /** A saved state per init (their params then take precedence over `inits`). */
  resume?: readonly SessionState[];
}

export interface EngineSession {
  readonly inits: number;
  /** Trains every init over the span's steps. Spans come in order: a span starts where the last one ended. */
  run(span: Span): Promise<SpanResult>;
  /** Each init's loss and gradient at its current parameters, without updating them (for conformance checks). */
  gradient(points: SparsePoints): Promise<{ loss: number; grad: Params }[]>;
  /** A copy of each init's current parameters. */
  params(): Promise<Params[]>;
  /** A copy of each init's whole optimiser state, for a checkpoint. */
  state(): Promise<SessionState[]>;
  dispose(): Promise<void>;
}

export interface Engine {
  /** Name and version are recorded with each run's metrics and key its checkpoints. */
  readonly name: string;
  readonly version: string;
  open(options: SessionOptions): Promise<EngineSession>;
  /** Frees threads, memory and devices; the engine is not used after. */
  close?(): Promise<void>;
}

/** Below this many (point, feature) pairs per step, one thread is faster than waking others. */
const PARALLEL_MIN_PAIRS = 1 << 17;

/** Threads a threaded engine uses for one step of `pairsPerStep` pairs when it may use `workers`. */
export const threadsForStep = (workers: number, pairsPerStep: number): number => (pairsPerStep >= PARALLEL_MIN_PAIRS ? workers : 1);
