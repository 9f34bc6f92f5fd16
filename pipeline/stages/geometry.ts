import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSparsePoints } from '../format/sparse.ts';
import { readWeights } from '../format/weights.ts';
import { writeJsonAtomic } from '../format/atomic.ts';
import { ConfigError } from '../config/load.ts';
import { generatePoints } from '../data/generate.ts';
import { Rng } from '../prng/rng.ts';
import { hiddenVectors } from '../geometry/hidden-vectors.ts';
import { fractionalDimensionality } from '../geometry/dimensionality.ts';
import { norm, rowNorms } from '../geometry/norms.ts';
import { checkSpec, loadPlan, type StageArgs } from './context.ts';

/** Per-run tables the figures read: feature vectors, training hidden vectors, their dimensionalities, norms, losses. */
export function runGeometryStage(args: StageArgs, log: (s: string) => void): void {
  const plan = loadPlan(args);
  const run = plan.runs.find((r) => r.id === args.id);
  if (!run) throw new ConfigError(`profile ${plan.profile} has no run "${args.id}"`);
  checkSpec(args, `run ${plan.profile}/${run.id}`, run.spec);
  const out = join(run.dir, 'geometry');
  rmSync(out, { recursive: true, force: true });
  const p = readWeights(join(run.dir, 'weights.bin'));
  const metricsFile = join(run.dir, 'metrics.json');
  let metrics: { testLoss: number; finalTrainLoss: number };
  try {
    metrics = JSON.parse(readFileSync(metricsFile, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${metricsFile}: cannot be read as JSON (${(e as Error).message})`);
  }
  const { n, m, sparsity, training } = run.spec;
  // Training examples: the training set, or for T = infinity the first batch training saw.
  const examples = run.dataset
    ? readSparsePoints(join(plan.dataDir, 'datasets', run.dataset, 'points.bin'))
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
    run: run.id, T: run.T === 'infinity' ? null : run.T, m, datasetSeed: run.datasetSeed, n, sparsity,
    testLoss: metrics.testLoss, finalTrainLoss: metrics.finalTrainLoss,
    normW: norm(p.W), normB: norm(p.b),
    maxFeatureDimensionality: Math.max(...featureDim),
    meanExampleDimensionality: exampleDim.reduce((a, b) => a + b, 0) / examples.count,
    examplesInTable: kept, examples: examples.count,
  };
  writeJsonAtomic(join(out, 'features.json'), features);
  writeJsonAtomic(join(out, 'examples.json'), exampleRows);
  writeJsonAtomic(join(out, 'summary.json'), summary);
  log(`[${run.id}] ||W|| ${summary.normW.toFixed(3)}, ||b|| ${summary.normB.toFixed(3)}, max feature dim ${summary.maxFeatureDimensionality.toFixed(3)}`);
}
