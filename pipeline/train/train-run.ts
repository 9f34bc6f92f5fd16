import type { RunPlan } from '../config/plan.ts';
import { batchSize } from '../config/size.ts';
import type { SparsePoints } from '../data/points.ts';
import type { Engine, EngineSession } from '../engines/engine.ts';
import { loss, type Params } from '../model/toy-model.ts';
import { xavierNormalInit } from '../model/init.ts';
import { learningRate } from '../optim/schedule.ts';
import { generatePoints } from '../data/generate.ts';
import { Rng } from '../prng/rng.ts';
import { streams } from '../prng/streams.ts';
import { Progress } from './progress.ts';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.ts';
import type { Snapshot } from '../format/snapshots.ts';
import type { Metrics } from '../contracts/metrics.ts';
import { UserError } from '../errors.ts';

/** A run whose loss or weights stopped being finite: its settings (a learning rate too high) make it diverge. */
class DivergenceError extends UserError {
  constructor(run: string, init: number, step: number, loss: number, weightsFinite: boolean) {
    super(`run ${run}: training diverged at step ${step} of init ${init} (${weightsFinite ? '' : 'weights not finite, '}loss ${loss})`);
    this.name = 'DivergenceError';
  }
}

/** metrics.json (contracts/metrics.ts): everything there is a deterministic function of the run's spec; wall time is reported apart. */
type RunMetrics = Metrics;

interface TrainResult {
  params: Params;
  /** The chosen init's weights at `weightSnapshots` evenly spaced steps (none when it is 0). */
  snapshots: Snapshot[];
  metrics: RunMetrics;
  wallTimeSeconds: number;
  resumedFrom: { init: number; step: number } | null;
}

interface CheckpointOptions {
  file: string;
  everySteps: number;
  key: string;
}

/** A diverging run is caught within this many steps (engines may skip the loss in between). */
const LOSS_EVERY = 100;

const allFinite = (p: Params) => p.W.every(Number.isFinite) && p.b.every(Number.isFinite);

/** Steps at which the loss curve is sampled: `points` evenly spaced steps including the first and last. */
function curveSteps(steps: number, points: number): Set<number> {
  const out = new Set<number>();
  const k = Math.min(points, steps);
  for (let i = 0; i < k; i++) out.add(Math.round((i * (steps - 1)) / (k - 1)));
  return out;
}

/** Steps whose weights are kept: `count` evenly spaced in 0..steps, where step s means before its update and `steps` the final weights. */
function snapshotSteps(steps: number, count: number): Set<number> {
  const out = new Set<number>();
  for (let i = 0; i < count; i++) out.add(Math.round((i * steps) / (count - 1)));
  return out;
}

/**
 * Trains every init of one run and keeps the one with the lowest final training loss
 * (ties go to the lower init index). With T = infinity each step draws a fresh batch.
 * With `checkpoint`, the whole state is saved every `everySteps` steps, and a run started
 * again continues from the last save to exactly the result of an uninterrupted run.
 *
 * Every loss reported or compared (each init's final training loss, the test loss) is the
 * model's loss in float64 from the final weights (model/toy-model.ts), whatever the engine
 * computed in: a sum of squares, never negative, the same for every engine's weights.
 */
export async function trainRun(
  run: RunPlan, train: SparsePoints | null, test: SparsePoints, engine: Engine,
  log: (line: string) => void = () => {}, checkpoint?: CheckpointOptions,
): Promise<TrainResult> {
  const { n, m, sparsity, training: tc } = run.spec;
  const started = performance.now();
  const opt = { beta1: tc.betas[0], beta2: tc.betas[1], eps: tc.eps, weightDecay: tc.weightDecay, decayBias: tc.decayBias };
  // For T = infinity the inits are compared on a batch of their own, apart from every batch they trained on.
  const selection = train ?? generatePoints({ n, sparsity }, tc.onlineBatchSize, Rng.fromLabel(streams.selection(run.spec.onlineLabel!)));

  const saved = checkpoint ? readCheckpoint(checkpoint.file, checkpoint.key, log) : null;
  const resumedFrom = saved ? { init: saved.init, step: saved.nextStep } : null;
  if (saved) log(`[${run.id}] resuming init ${saved.init} at step ${saved.nextStep} from ${checkpoint!.file}`);
  const inits = saved ? [...saved.inits] : [];
  let best: Checkpoint['best'] = saved ? saved.best : null;
  const progress = new Progress(log, run.id, tc.initsPerRun * tc.steps, batchSize(run.T, tc) * n, saved ? saved.init * tc.steps + saved.nextStep : 0);

  for (let init = saved ? saved.init : 0; init < tc.initsPerRun; init++) {
    const resume = saved && saved.init === init ? saved : null;
    const session = await engine.open(xavierNormalInit(n, m, Rng.fromLabel(streams.init(run.spec.initLabel, init))), opt, resume?.session);
    try {
      const { params, curve, snapshots } = trainInit(run, init, session, train, resume, progress, checkpoint && { ...checkpoint, inits, best });
      const finalTrainLoss = loss(params, selection);
      if (!Number.isFinite(finalTrainLoss)) throw new DivergenceError(run.id, init, tc.steps, finalTrainLoss, true);
      inits.push({ init, finalTrainLoss });
      if (best === null || finalTrainLoss < best.loss) best = { init, loss: finalTrainLoss, params, curve, snapshots };
    } finally {
      await session.dispose();
    }
  }
  progress.done();
  return {
    params: best!.params,
    snapshots: best!.snapshots,
    metrics: {
      run: run.id,
      engine: { name: engine.name, version: engine.version },
      T: run.T,
      m,
      steps: tc.steps,
      chosenInit: best!.init,
      inits,
      finalTrainLoss: best!.loss,
      testLoss: loss(best!.params, test),
      lossCurve: best!.curve,
    },
    wallTimeSeconds: Math.round((performance.now() - started) / 10) / 100,
    resumedFrom,
  };
}

/** The steps of one init, from the start or from its checkpoint: its final weights and its loss curve. */
function trainInit(
  run: RunPlan, init: number, session: EngineSession, train: SparsePoints | null, resume: Checkpoint | null, progress: Progress,
  checkpoint: (CheckpointOptions & Pick<Checkpoint, 'inits' | 'best'>) | undefined,
): { params: Params; curve: Checkpoint['curve']; snapshots: Snapshot[] } {
  const { n, sparsity, training: tc } = run.spec;
  const sampled = curveSteps(tc.steps, tc.lossCurvePoints);
  const kept = snapshotSteps(tc.steps, tc.weightSnapshots);
  const snapshots = resume ? [...resume.snapshots] : [];
  const online = train ? null : resume?.onlineRng ? Rng.fromState(resume.onlineRng) : Rng.fromLabel(run.spec.onlineLabel!);
  const curve = resume ? [...resume.curve] : [];
  let lastLoss = NaN;
  for (let s = resume ? resume.nextStep : 0; s < tc.steps; s++) {
    if (kept.has(s)) snapshots.push({ step: s, params: session.params() });
    const batch = train ?? generatePoints({ n, sparsity }, tc.onlineBatchSize, online!);
    // The loss is needed on the curve's steps; every LOSS_EVERY steps it also checks for divergence.
    const withLoss = sampled.has(s) || s % LOSS_EVERY === 0;
    const stepLoss = session.step(batch, learningRate(s, tc.steps, tc.warmupSteps, tc.peakLearningRate), withLoss);
    if (withLoss) {
      const weightsFinite = s % LOSS_EVERY !== 0 || allFinite(session.params());
      if (!Number.isFinite(stepLoss) || !weightsFinite) throw new DivergenceError(run.id, init, s, stepLoss, weightsFinite);
      lastLoss = stepLoss;
    }
    if (sampled.has(s)) curve.push({ step: s, loss: stepLoss });
    progress.tick(init, s, lastLoss);
    if (checkpoint && (s + 1) % checkpoint.everySteps === 0 && s + 1 < tc.steps)
      writeCheckpoint(checkpoint.file, {
        key: checkpoint.key, init, nextStep: s + 1, inits: checkpoint.inits, best: checkpoint.best, curve, snapshots,
        onlineRng: online ? online.state() : null, session: session.state(),
      });
  }
  const params = session.params();
  if (!allFinite(params)) throw new DivergenceError(run.id, init, tc.steps, lastLoss, false);
  if (kept.has(tc.steps)) snapshots.push({ step: tc.steps, params });
  return { params, curve, snapshots };
}
