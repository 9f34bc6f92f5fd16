import type { SparsePoints } from '../format/sparse.ts';
import type { Params } from '../model/toy-model.ts';

/** What every training engine does; the reference engine is the readable definition. */
export interface OptimiserSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decayBias: boolean;
}

export interface EngineSession {
  /** Loss at the current parameters on `batch`, then the gradient and one AdamW update at rate `lr`. */
  step(batch: SparsePoints, lr: number): number;
  /** Loss at the current parameters, without updating them. */
  loss(batch: SparsePoints): number;
  /** A copy of the current parameters. */
  params(): Params;
  dispose(): void;
}

export interface Engine {
  /** Name and version enter the training task's cache key. */
  readonly name: string;
  readonly version: string;
  open(init: Params, opt: OptimiserSettings): EngineSession;
}
