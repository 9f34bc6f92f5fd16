import { existsSync, rmSync } from 'node:fs';
import { readSparsePoints } from '../format/sparse.ts';
import { readWeights } from '../format/weights.ts';
import { readSnapshots } from '../format/snapshots.ts';
import { readJson, writeJsonAtomic } from '../format/json.ts';
import { FormatError } from '../format/error.ts';
import { generatePoints } from '../data/generate.ts';
import type { SparsePoints } from '../data/points.ts';
import { Rng } from '../prng/rng.ts';
import { loss, type Params } from '../model/toy-model.ts';
import { hiddenVectors } from '../geometry/hidden-vectors.ts';
import { fractionalDimensionality } from '../geometry/dimensionality.ts';
import { norm, rowNorms } from '../geometry/norms.ts';
import { planRun, type StageArgs } from './context.ts';

/** A feature counts as learned above this dimensionality (as in geometry/regimes.ts). */
const LEARNED = 0.1;

/**
 * The geometry of one set of weights: feature vectors and the hidden vectors of the training
 * examples, with their dimensionalities. With a repeated point, the dimensionalities are taken
 * over the distinct examples (the copies, the set's last repeats - 1 points, are left out), and the
 * repeated point is example 0.
 */
function geometryOf(p: Params, examples: SparsePoints, distinct: number, kept: number) {
  const { n, m } = p;
  const H = hiddenVectors(p, examples, distinct);
  const featureDim = fractionalDimensionality(p.W, n, m);
  const exampleDim = fractionalDimensionality(H, distinct, m);
  const featureNorm = rowNorms(p.W, n, m);
  const exampleNorm = rowNorms(H, distinct, m);
  const c = (a: Float64Array, i: number, k: number) => (k < m ? a[i * m + k] : 0);
  const features = Array.from({ length: n }, (_, i) => ({
    feature: i, x: c(p.W, i, 0), y: c(p.W, i, 1), norm: featureNorm[i], dimensionality: featureDim[i],
  }));
  const exampleRows = Array.from({ length: Math.min(distinct, kept) }, (_, t) => ({
    example: t, x: c(H, t, 0), y: c(H, t, 1), norm: exampleNorm[t], dimensionality: exampleDim[t],
  }));
  const stats = {
    normW: norm(p.W), normB: norm(p.b),
    maxFeatureDimensionality: Math.max(...featureDim),
    featuresLearned: featureDim.reduce((k, d) => k + (d > LEARNED ? 1 : 0), 0),
    meanExampleDimensionality: exampleDim.reduce((a, b) => a + b, 0) / distinct,
  };
  return { features, examples: exampleRows, stats, exampleDim };
}

/**
 * Per-run tables the figures read: feature vectors, training hidden vectors, their dimensionalities,
 * norms, losses; and for a run with weight snapshots, the same at each snapshot (moments.json).
 */
export function runGeometryStage(args: StageArgs, log: (s: string) => void): void {
  const { run } = planRun(args);
  const { files } = run;
  rmSync(files.geometry.dir, { recursive: true, force: true });
  const p = readWeights(files.weights);
  const metrics = readJson(files.metrics) as { testLoss: number; finalTrainLoss: number; engine: { name: string; version: string } };
  const { n, m, sparsity, training } = run.spec;
  // Training examples: the training set, or for T = infinity the first batch training saw.
  const examples = run.dataset
    ? readSparsePoints(run.dataset.files.points)
    : generatePoints({ n, sparsity }, training.onlineBatchSize, Rng.fromLabel(run.spec.onlineLabel!));
  const distinct = examples.count - (run.repeats - 1);
  const kept = run.spec.geometry.maxExamplesPerRun;
  const final = geometryOf(p, examples, distinct, kept);
  const repeated = run.repeats > 1 ? { repeats: run.repeats, repeatedExampleDimensionality: final.exampleDim[0] } : {};
  const summary = {
    run: run.id, T: run.T === 'infinity' ? null : run.T, m, datasetSeed: run.datasetSeed, n, sparsity, engine: `${metrics.engine.name} ${metrics.engine.version}`,
    testLoss: metrics.testLoss, finalTrainLoss: metrics.finalTrainLoss,
    ...final.stats, ...repeated,
    examplesInTable: final.examples.length, examples: distinct,
  };
  writeJsonAtomic(files.geometry.features, final.features);
  writeJsonAtomic(files.geometry.examples, final.examples.map((e) => (run.repeats > 1 ? { ...e, repeated: e.example === 0 } : e)));
  writeJsonAtomic(files.geometry.summary, summary);
  log(`[${run.id}] ||W|| ${summary.normW.toFixed(3)}, ||b|| ${summary.normB.toFixed(3)}, max feature dim ${summary.maxFeatureDimensionality.toFixed(3)}`);

  if (training.weightSnapshots > 0) {
    if (!existsSync(files.snapshots)) throw new FormatError(files.snapshots, `missing: run ${run.id} keeps ${training.weightSnapshots} weight snapshots; train it again`);
    const test = readSparsePoints(run.testSet.files.points);
    const trainSet = run.dataset ? examples : null;
    const moments = readSnapshots(files.snapshots).map((s, snapshot) => {
      const g = geometryOf(s.params, examples, distinct, kept);
      const at = { snapshot, step: s.step, progress: s.step / training.steps };
      return {
        summary: {
          ...at, ...g.stats, testLoss: loss(s.params, test), trainLoss: trainSet ? loss(s.params, trainSet) : null,
          ...(run.repeats > 1 ? { repeatedExampleDimensionality: g.exampleDim[0] } : {}),
        },
        vectors: [
          ...g.features.map((f) => ({ ...f, ...at, kind: 'feature' })),
          ...g.examples.map((e) => ({ ...e, ...at, kind: 'example', ...(run.repeats > 1 ? { repeated: e.example === 0 } : {}) })),
        ],
      };
    });
    writeJsonAtomic(files.geometry.moments, { summary: moments.map((x) => x.summary), vectors: moments.flatMap((x) => x.vectors) });
    log(`[${run.id}] geometry at ${moments.length} moments of training`);
  }
}
