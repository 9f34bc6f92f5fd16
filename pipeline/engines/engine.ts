import type { SparsePoints } from '../data/points.ts';
import type { Params } from '../model/toy-model.ts';

/**
 * What every training engine does: full-batch steps of the toy model with AdamW. The reference
 * engine (reference.ts) is the readable definition; pipeline/engines/registry.ts lists them all.
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

export interface EngineSession {
  /**
   * Loss at the current parameters on `batch`, then the gradient and one AdamW update at
   * rate `lr`. With `withLoss` false an engine may skip the loss and return NaN.
   */
  step(batch: SparsePoints, lr: number, withLoss?: boolean): number;
  /** Loss and its gradient at the current parameters, without updating them (for conformance checks). */
  gradient(batch: SparsePoints): { loss: number; grad: Params };
  /** A copy of the current parameters. */
  params(): Params;
  /** A copy of the whole optimiser state, for a checkpoint. */
  state(): SessionState;
  dispose(): void | Promise<void>;
}

export interface Engine {
  /** Name and version are recorded with each run's metrics and key its checkpoints. */
  readonly name: string;
  readonly version: string;
  /** Starts from `init`, or from a saved state (whose params then take precedence). */
  open(init: Params, opt: OptimiserSettings, resume?: SessionState): EngineSession | Promise<EngineSession>;
  /** Frees threads and memory; the engine is not used after. */
  close?(): Promise<void>;
}

/** Below this many (point, feature) pairs per step, one thread is faster than waking others. */
const PARALLEL_MIN_PAIRS = 1 << 17;

/** Threads a threaded engine uses for one step of `pairsPerStep` pairs when it may use `workers`. */
export const threadsForStep = (workers: number, pairsPerStep: number): number => (pairsPerStep >= PARALLEL_MIN_PAIRS ? workers : 1);
