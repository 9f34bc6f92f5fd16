import type { RunPlan } from '../config/plan.ts';
import { batchSize } from '../config/size.ts';
import type { SparsePoints } from '../data/points.ts';
import type { Engine, EngineSession, SpanData, StreamState } from '../engines/engine.ts';
import { loss, type Params } from '../model/toy-model.ts';
import { xavierNormalInit } from '../model/init.ts';
import { learningRate } from '../optim/schedule.ts';
import { generatePoints } from '../data/generate.ts';
import { Rng } from '../prng/rng.ts';
import { streams } from '../prng/streams.ts';
import { Progress } from './progress.ts';
import { readCheckpoint, writeCheckpoint } from './checkpoint.ts';
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
  /** Every init's final weights (params is the chosen one's). */
  finals: Params[];
  /** The chosen init's weights at `weightSnapshots` evenly spaced steps (none when it is 0). */
  snapshots: Snapshot[];
  metrics: RunMetrics;
  wallTimeSeconds: number;
  resumedFrom: { step: number } | null;
}

interface CheckpointOptions {
  file: string;
  everySteps: number;
  key: string;
}

/** A diverging run is caught within this many steps (engines may skip the loss in between) or at the end of a span. */
const LOSS_EVERY = 100;
/** A span (engine.ts) holds at most this many steps, and about this many (point, feature) pairs over all inits: progress and divergence are looked at between spans. */
const SPAN_STEPS = 1000;
const SPAN_PAIRS = 4e9;

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

/** The steps of `set` in [from, to), ascending (to included with `inclusive`). */
const stepsIn = (set: Set<number>, from: number, to: number, inclusive = false) =>
  [...set].filter((s) => s >= from && (inclusive ? s <= to : s < to)).sort((a, b) => a - b);

/**
 * Trains every init of one run together and keeps the one with the lowest final training loss
 * (ties go to the lower init index). With T = infinity each step draws a fresh batch, the same for
 * every init. The engine trains spans of steps (engines/engine.ts); with `checkpoint`, the whole
 * state is saved every `everySteps` steps, and a run started again continues from the last save
 * to exactly the result of an uninterrupted run.
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
  const k = tc.initsPerRun;

  const saved = checkpoint ? readCheckpoint(checkpoint.file, checkpoint.key, log) : null;
  if (saved && saved.sessions.length !== k) throw new Error(`${checkpoint!.file}: a checkpoint of ${saved.sessions.length} inits for a run of ${k}`);
  const resumedFrom = saved ? { step: saved.nextStep } : null;
  if (saved) log(`[${run.id}] resuming at step ${saved.nextStep} from ${checkpoint!.file}`);

  const inits = Array.from({ length: k }, (_, i) => xavierNormalInit(n, m, Rng.fromLabel(streams.init(run.spec.initLabel, i))));
  const schedule = Float64Array.from({ length: tc.steps }, (_, s) => learningRate(s, tc.steps, tc.warmupSteps, tc.peakLearningRate));
  const session = await engine.open({ inits, opt, schedule, resume: saved?.sessions });
  try {
    const pairsPerStep = batchSize(run.T, tc) * n;
    const progress = new Progress(log, run.id, tc.steps, pairsPerStep * k, saved ? saved.nextStep : 0);
    const { curves, snapshots } = await trainSpans(run, session, train, saved, progress, pairsPerStep, checkpoint);
    progress.done();

    const finals = await session.params();
    const chosen: number[] = [];
    const results = finals.map((params, init) => {
      const finalTrainLoss = loss(params, selection);
      if (!Number.isFinite(finalTrainLoss)) throw new DivergenceError(run.id, init, tc.steps, finalTrainLoss, true);
      if (chosen.length === 0 || finalTrainLoss < chosen[1]) chosen.splice(0, 2, init, finalTrainLoss);
      return { init, finalTrainLoss, testLoss: loss(params, test) };
    });
    const best = chosen[0];
    return {
      params: finals[best],
      finals,
      snapshots: snapshots[best],
      metrics: {
        run: run.id,
        engine: { name: engine.name, version: engine.version },
        T: run.T,
        m,
        steps: tc.steps,
        chosenInit: best,
        inits: results,
        finalTrainLoss: results[best].finalTrainLoss,
        testLoss: results[best].testLoss,
        lossCurve: curves[best],
      },
      wallTimeSeconds: Math.round((performance.now() - started) / 10) / 100,
      resumedFrom,
    };
  } finally {
    await session.dispose();
  }
}

/**
 * The steps of every init, from the start or from the checkpoint, a span at a time: each init's
 * loss curve and snapshots. Spans end at checkpoints, so a checkpoint is written between two spans.
 */
async function trainSpans(
  run: RunPlan, session: EngineSession, train: SparsePoints | null, saved: ReturnType<typeof readCheckpoint>, progress: Progress,
  pairsPerStep: number, checkpoint: CheckpointOptions | undefined,
): Promise<{ curves: { step: number; loss: number }[][]; snapshots: Snapshot[][] }> {
  const { n, sparsity, training: tc } = run.spec;
  const k = session.inits;
  const sampled = curveSteps(tc.steps, tc.lossCurvePoints);
  const watched = new Set([...sampled, ...Array.from({ length: Math.ceil(tc.steps / LOSS_EVERY) }, (_, i) => i * LOSS_EVERY)]);
  const kept = snapshotSteps(tc.steps, tc.weightSnapshots);
  const curves = saved ? saved.curves.map((c) => [...c]) : Array.from({ length: k }, () => [] as { step: number; loss: number }[]);
  const snapshots = saved ? saved.snapshots.map((s) => [...s]) : Array.from({ length: k }, () => [] as Snapshot[]);
  let stream: StreamState | null = train ? null : saved?.onlineRng ?? Rng.fromLabel(run.spec.onlineLabel!).state();
  const spanSteps = Math.max(1, Math.min(SPAN_STEPS, Math.floor(SPAN_PAIRS / (pairsPerStep * k))));
  const lastLoss = new Array<number>(k).fill(NaN);

  for (let from = saved ? saved.nextStep : 0; from < tc.steps; ) {
    let to = Math.min(tc.steps, from + spanSteps);
    if (checkpoint) to = Math.min(to, (Math.floor(from / checkpoint.everySteps) + 1) * checkpoint.everySteps);
    const data: SpanData = train ? { kind: 'fixed', points: train } : { kind: 'online', n, sparsity, batch: tc.onlineBatchSize, stream: stream! };
    const lossSteps = stepsIn(watched, from, to);
    const snapSteps = stepsIn(kept, from, to, to === tc.steps);
    const r = await session.run({ from, to, data, lossSteps, snapshotSteps: snapSteps });
    const params = await session.params();
    for (let i = 0; i < k; i++) {
      // The first step whose loss is not finite, or the weights at the span's end, stop the run.
      lossSteps.forEach((step, j) => {
        const l = r.losses[i][j];
        if (!Number.isFinite(l)) throw new DivergenceError(run.id, i, step, l, allFinite(params[i]));
        lastLoss[i] = l;
        if (sampled.has(step)) curves[i].push({ step, loss: l });
      });
      if (!allFinite(params[i])) throw new DivergenceError(run.id, i, to, lastLoss[i], false);
      snapSteps.forEach((step, j) => snapshots[i].push({ step, params: r.snapshots[i][j] }));
    }
    stream = r.stream;
    progress.advance(to - from, to, lastLoss[0]);
    from = to;
    if (checkpoint && to % checkpoint.everySteps === 0 && to < tc.steps)
      writeCheckpoint(checkpoint.file, { key: checkpoint.key, nextStep: to, curves, snapshots, onlineRng: stream, sessions: await session.state() });
  }
  return { curves, snapshots };
}
