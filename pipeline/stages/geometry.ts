import { rmSync } from 'node:fs';
import { readSparsePoints } from '../format/sparse.ts';
import { readWeights } from '../format/weights.ts';
import { readJson, writeJsonAtomic } from '../format/json.ts';
import { generatePoints } from '../data/generate.ts';
import { Rng } from '../prng/rng.ts';
import { hiddenVectors } from '../geometry/hidden-vectors.ts';
import { fractionalDimensionality } from '../geometry/dimensionality.ts';
import { norm, rowNorms } from '../geometry/norms.ts';
import { planRun, type StageArgs } from './context.ts';

/** Per-run tables the figures read: feature vectors, training hidden vectors, their dimensionalities, norms, losses. */
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
  const H = hiddenVectors(p, examples);
  const featureDim = fractionalDimensionality(p.W, n, m);
  const exampleDim = fractionalDimensionality(H, examples.count, m);
  const featureNorm = rowNorms(p.W, n, m);
  const exampleNorm = rowNorms(H, examples.count, m);
  const c = (a: Float64Array, i: number, k: number) => (k < m ? a[i * m + k] : 0);

  const features = Array.from({ length: n }, (_, i) => ({
    feature: i, x: c(p.W, i, 0), y: c(p.W, i, 1), norm: featureNorm[i], dimensionality: featureDim[i],
  }));
  const kept = Math.min(examples.count, run.spec.geometry.maxExamplesPerRun);
  const exampleRows = Array.from({ length: kept }, (_, t) => ({
    example: t, x: c(H, t, 0), y: c(H, t, 1), norm: exampleNorm[t], dimensionality: exampleDim[t],
  }));
  const summary = {
    run: run.id, T: run.T === 'infinity' ? null : run.T, m, datasetSeed: run.datasetSeed, n, sparsity, engine: `${metrics.engine.name} ${metrics.engine.version}`,
    testLoss: metrics.testLoss, finalTrainLoss: metrics.finalTrainLoss,
    normW: norm(p.W), normB: norm(p.b),
    maxFeatureDimensionality: Math.max(...featureDim),
    meanExampleDimensionality: exampleDim.reduce((a, b) => a + b, 0) / examples.count,
    examplesInTable: kept, examples: examples.count,
  };
  writeJsonAtomic(files.geometry.features, features);
  writeJsonAtomic(files.geometry.examples, exampleRows);
  writeJsonAtomic(files.geometry.summary, summary);
  log(`[${run.id}] ||W|| ${summary.normW.toFixed(3)}, ||b|| ${summary.normB.toFixed(3)}, max feature dim ${summary.maxFeatureDimensionality.toFixed(3)}`);
}
