import type { RunPlan } from '../config/plan.ts';
import type { SparsePoints } from '../format/sparse.ts';
import type { Engine } from './engine.ts';
import type { Params } from '../model/toy-model.ts';
import { xavierNormalInit } from '../model/init.ts';
import { learningRate } from '../optim/schedule.ts';
import { generatePoints } from '../data/generate.ts';
import { Rng } from '../prng/rng.ts';
import { Progress } from './progress.ts';

export class DivergenceError extends Error {
  constructor(run: string, init: number, step: number, loss: number) {
    super(`run ${run}: training diverged at step ${step} of init ${init} (loss ${loss})`);
    this.name = 'DivergenceError';
  }
}

export interface TrainResult {
  params: Params;
  metrics: {
    run: string;
    engine: { name: string; version: string };
    T: number | 'infinity';
    m: number;
    steps: number;
    chosenInit: number;
    inits: { init: number; finalTrainLoss: number }[];
    finalTrainLoss: number;
    testLoss: number;
    lossCurve: { step: number; loss: number }[]; // of the chosen init; loss before that step's update
    wallTimeSeconds: number;
  };
}

/** Steps at which the loss curve is sampled: `points` evenly spaced steps including the first and last. */
export function curveSteps(steps: number, points: number): Set<number> {
  const out = new Set<number>();
  const k = Math.min(points, steps);
  for (let i = 0; i < k; i++) out.add(Math.round((i * (steps - 1)) / (k - 1)));
  return out;
}

/**
 * Trains every init of one run and keeps the one with the lowest final training loss
 * (ties go to the lower init index). With T = infinity each step draws a fresh batch.
 */
export function trainRun(run: RunPlan, train: SparsePoints | null, test: SparsePoints, engine: Engine, log: (line: string) => void = () => {}): TrainResult {
  const { n, m, sparsity, training: tc } = run.spec;
  const started = performance.now();
  const sampled = curveSteps(tc.steps, tc.lossCurvePoints);
  const opt = { beta1: tc.betas[0], beta2: tc.betas[1], eps: tc.eps, weightDecay: tc.weightDecay, decayBias: tc.decayBias };
  const batchSize = train ? train.count : tc.onlineBatchSize;
  const selection = train ?? generatePoints({ n, sparsity }, tc.onlineBatchSize, Rng.fromLabel(`${run.spec.onlineLabel}/selection`));
  const inits: { init: number; finalTrainLoss: number }[] = [];
  let best: { init: number; loss: number; params: Params; curve: { step: number; loss: number }[] } | null = null;
  const progress = new Progress(log, run.id, tc.initsPerRun * tc.steps, batchSize * n);
  for (let init = 0; init < tc.initsPerRun; init++) {
    const session = engine.open(xavierNormalInit(n, m, Rng.fromLabel(`${run.spec.initLabel}/init=${init}`)), opt);
    const online = train ? null : Rng.fromLabel(run.spec.onlineLabel!);
    const curve: { step: number; loss: number }[] = [];
    let last = NaN;
    for (let s = 0; s < tc.steps; s++) {
      const batch = train ?? generatePoints({ n, sparsity }, tc.onlineBatchSize, online!);
      last = session.step(batch, learningRate(s, tc.steps, tc.warmupSteps, tc.peakLearningRate));
      if (!Number.isFinite(last)) throw new DivergenceError(run.id, init, s, last);
      if (sampled.has(s)) curve.push({ step: s, loss: last });
      progress.tick(init, s, last);
    }
    const finalLoss = session.loss(selection);
    if (!Number.isFinite(finalLoss)) throw new DivergenceError(run.id, init, tc.steps, finalLoss);
    inits.push({ init, finalTrainLoss: finalLoss });
    if (best === null || finalLoss < best.loss) best = { init, loss: finalLoss, params: session.params(), curve };
    session.dispose();
  }
  const chosen = engine.open(best!.params, opt);
  const testLoss = chosen.loss(test);
  chosen.dispose();
  progress.done();
  return {
    params: best!.params,
    metrics: {
      run: run.id,
      engine: { name: engine.name, version: engine.version },
      T: run.T,
      m,
      steps: tc.steps,
      chosenInit: best!.init,
      inits,
      finalTrainLoss: best!.loss,
      testLoss,
      lossCurve: best!.curve,
      wallTimeSeconds: Math.round((performance.now() - started) / 10) / 100,
    },
  };
}
