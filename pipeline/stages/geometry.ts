import { existsSync, rmSync } from 'node:fs';
import { readSparsePoints } from '../format/sparse.ts';
import { readWeights } from '../format/weights.ts';
import { readSnapshots } from '../format/snapshots.ts';
import { readInits } from '../format/inits.ts';
import { writeJsonAtomic } from '../files/json.ts';
import { FormatError } from '../files/error.ts';
import { generatePoints } from '../data/generate.ts';
import { Rng } from '../prng/rng.ts';
import { loss } from '../model/toy-model.ts';
import { geometryOf } from '../geometry/geometry-of.ts';
import { readContract } from '../contracts/read.ts';
import { Metrics } from '../contracts/metrics.ts';
import type { Summary } from '../contracts/summary.ts';
import type { Examples } from '../contracts/examples.ts';
import type { Features } from '../contracts/features.ts';
import type { MomentSummary, MomentVector, Moments } from '../contracts/moments.ts';
import { planRun, type StageArgs } from './context.ts';

/**
 * Per-run tables the figures read: feature vectors, training hidden vectors, their dimensionalities,
 * norms, losses; and for a run with weight snapshots, the same at each snapshot (moments.json).
 * The geometry itself is geometry/geometry-of.ts; this reads the run's files, calls it and writes.
 */
export function runGeometryStage(args: StageArgs, log: (s: string) => void): void {
  const { run } = planRun(args);
  const { files } = run;
  rmSync(files.geometry.dir, { recursive: true, force: true });
  const p = readWeights(files.weights);
  const metrics = readContract(files.metrics, Metrics);
  const { n, m, sparsity, training } = run.spec;
  // Training examples: the training set, or for T = infinity the first batch training saw.
  const examples = run.dataset
    ? readSparsePoints(run.dataset.files.points)
    : generatePoints({ n, sparsity }, training.onlineBatchSize, Rng.fromLabel(run.spec.onlineLabel!));
  const distinct = examples.count - (run.repeats - 1);
  const kept = run.spec.geometry.maxExamplesPerRun;
  const final = geometryOf(p, examples, distinct, kept);
  const repeated = run.repeats > 1 ? { repeats: run.repeats, repeatedExampleDimensionality: final.exampleDim[0] } : {};
  // Every init's numbers: the chosen one's are the run's; each other init's geometry is computed as the chosen one's is.
  const all = readInits(files.inits);
  if (all.chosen !== metrics.chosenInit || all.inits.length !== metrics.inits.length)
    throw new FormatError(files.inits, `holds ${all.inits.length} inits with init ${all.chosen} chosen, but ${files.metrics} says ${metrics.inits.length} with init ${metrics.chosenInit}; train run ${run.id} again`);
  const inits = metrics.inits.map((r, i) => ({
    init: r.init, chosen: i === all.chosen, testLoss: r.testLoss, finalTrainLoss: r.finalTrainLoss,
    ...(i === all.chosen ? final.stats : geometryOf(all.inits[i], examples, distinct, 0).stats),
  }));
  const summary: Summary = {
    run: run.id, T: run.T === 'infinity' ? null : run.T, m, datasetSeed: run.datasetSeed, n, sparsity, engine: `${metrics.engine.name} ${metrics.engine.version}`,
    testLoss: metrics.testLoss, finalTrainLoss: metrics.finalTrainLoss,
    ...final.stats, ...repeated,
    examplesInTable: final.examples.length, examples: distinct, inits,
  };
  writeJsonAtomic(files.geometry.features, final.features satisfies Features);
  writeJsonAtomic(files.geometry.examples, final.examples.map((e) => (run.repeats > 1 ? { ...e, repeated: e.example === 0 } : e)) satisfies Examples);
  writeJsonAtomic(files.geometry.summary, summary);
  log(`[${run.id}] ||W|| ${summary.normW.toFixed(3)}, ||b|| ${summary.normB.toFixed(3)}, max feature dim ${summary.maxFeatureDimensionality.toFixed(3)}`);

  if (training.weightSnapshots > 0) {
    if (!existsSync(files.snapshots)) throw new FormatError(files.snapshots, `missing: run ${run.id} keeps ${training.weightSnapshots} weight snapshots; train it again`);
    const test = readSparsePoints(run.testSet.files.points);
    const trainSet = run.dataset ? examples : null;
    const moments = readSnapshots(files.snapshots).map((s, snapshot) => {
      const g = geometryOf(s.params, examples, distinct, kept);
      const at = { snapshot, step: s.step, progress: s.step / training.steps };
      const summary: MomentSummary = {
        ...at, ...g.stats, testLoss: loss(s.params, test), trainLoss: trainSet ? loss(s.params, trainSet) : null,
        ...(run.repeats > 1 ? { repeatedExampleDimensionality: g.exampleDim[0] } : {}),
      };
      const vectors: MomentVector[] = [
        ...g.features.map((f) => ({ ...f, ...at, kind: 'feature' as const })),
        ...g.examples.map((e) => ({ ...e, ...at, kind: 'example' as const, ...(run.repeats > 1 ? { repeated: e.example === 0 } : {}) })),
      ];
      return { summary, vectors };
    });
    writeJsonAtomic(files.geometry.moments, { summary: moments.map((x) => x.summary), vectors: moments.flatMap((x) => x.vectors) } satisfies Moments);
    log(`[${run.id}] geometry at ${moments.length} moments of training`);
  }
}
