import type { RunPlan } from '../config/plan.ts';
import type { SparsePoints } from '../format/sparse.ts';
import type { Engine } from './engine.ts';
import type { Params } from '../model/toy-model.ts';
import { xavierNormalInit } from '../model/init.ts';
import { learningRate } from '../optim/schedule.ts';
import { generatePoints } from '../data/generate.ts';
import { Rng } from '../prng/rng.ts';
import { Progress } from './progress.ts';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.ts';

export class DivergenceError extends Error {
  constructor(run: string, init: number, step: number, loss: number) {
    super(`run ${run}: training diverged at step ${step} of init ${init} (loss ${loss})`);
    this.name = 'DivergenceError';
  }
}

/** Everything here is a deterministic function of the run's spec; wall time is reported apart. */
export interface RunMetrics {
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
}

export interface TrainResult {
  params: Params;
  metrics: RunMetrics;
  wallTimeSeconds: number;
  resumedFrom: { init: number; step: number } | null;
}

export interface CheckpointOptions {
  file: string;
  everySteps: number;
  key: string;
}

/** A diverging run is caught within this many steps (engines may skip the loss in between). */
export const LOSS_EVERY = 100;

const allFinite = (p: Params) => p.W.every(Number.isFinite) && p.b.every(Number.isFinite);

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
 * With `checkpoint`, the whole state is saved every `everySteps` steps, and a run started
 * again continues from the last save to exactly the result of an uninterrupted run.
 */
export async function trainRun(
  run: RunPlan, train: SparsePoints | null, test: SparsePoints, engine: Engine,
  log: (line: string) => void = () => {}, checkpoint?: CheckpointOptions,
): Promise<TrainResult> {
  const { n, m, sparsity, training: tc } = run.spec;
  const started = performance.now();
  const sampled = curveSteps(tc.steps, tc.lossCurvePoints);
  const opt = { beta1: tc.betas[0], beta2: tc.betas[1], eps: tc.eps, weightDecay: tc.weightDecay, decayBias: tc.decayBias };
  const batchSize = train ? train.count : tc.onlineBatchSize;
  const selection = train ?? generatePoints({ n, sparsity }, tc.onlineBatchSize, Rng.fromLabel(`${run.spec.onlineLabel}/selection`));

  const saved = checkpoint ? readCheckpoint(checkpoint.file, checkpoint.key, log) : null;
  const resumedFrom = saved ? { init: saved.init, step: saved.nextStep } : null;
  if (saved) log(`[${run.id}] resuming init ${saved.init} at step ${saved.nextStep} from ${checkpoint!.file}`);
  const inits = saved ? [...saved.inits] : [];
  let best: Checkpoint['best'] = saved ? saved.best : null;
  const progress = new Progress(log, run.id, tc.initsPerRun * tc.steps, batchSize * n, saved ? saved.init * tc.steps + saved.nextStep : 0);

  for (let init = saved ? saved.init : 0; init < tc.initsPerRun; init++) {
    const resume = saved && saved.init === init ? saved : null;
    const session = await engine.open(xavierNormalInit(n, m, Rng.fromLabel(`${run.spec.initLabel}/init=${init}`)), opt, resume?.session);
    const online = train ? null : resume?.onlineRng ? Rng.fromState(resume.onlineRng) : Rng.fromLabel(run.spec.onlineLabel!);
    const curve = resume ? [...resume.curve] : [];
    let lastLoss = NaN;
    try {
      for (let s = resume ? resume.nextStep : 0; s < tc.steps; s++) {
        const batch = train ?? generatePoints({ n, sparsity }, tc.onlineBatchSize, online!);
        // The loss is needed on the curve's steps; every LOSS_EVERY steps it also checks for divergence.
        const withLoss = sampled.has(s) || s % LOSS_EVERY === 0;
        const loss = session.step(batch, learningRate(s, tc.steps, tc.warmupSteps, tc.peakLearningRate), withLoss);
        if (withLoss) {
          if (!Number.isFinite(loss) || (s % LOSS_EVERY === 0 && !allFinite(session.params()))) throw new DivergenceError(run.id, init, s, loss);
          lastLoss = loss;
        }
        if (sampled.has(s)) curve.push({ step: s, loss });
        progress.tick(init, s, lastLoss);
        if (checkpoint && (s + 1) % checkpoint.everySteps === 0 && s + 1 < tc.steps)
          writeCheckpoint(checkpoint.file, {
            key: checkpoint.key, init, nextStep: s + 1, inits, best, curve, onlineRng: online ? online.state() : null, session: session.state(),
          });
      }
      const finalLoss = session.loss(selection);
      const params = session.params();
      if (!Number.isFinite(finalLoss) || !allFinite(params)) throw new DivergenceError(run.id, init, tc.steps, finalLoss);
      inits.push({ init, finalTrainLoss: finalLoss });
      if (best === null || finalLoss < best.loss) best = { init, loss: finalLoss, params, curve };
    } finally {
      await session.dispose();
    }
  }
  const chosen = await engine.open(best!.params, opt);
  const testLoss = chosen.loss(test);
  await chosen.dispose();
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
    },
    wallTimeSeconds: Math.round((performance.now() - started) / 10) / 100,
    resumedFrom,
  };
}
