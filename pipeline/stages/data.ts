import { rmSync } from 'node:fs';
import { generatePoints, withRepeats } from '../data/generate.ts';
import { writeSparsePoints } from '../format/sparse.ts';
import { writeJsonAtomic } from '../files/json.ts';
import { Rng } from '../prng/rng.ts';
import { ConfigError } from '../config/load.ts';
import { checkSpec, loadPlan, type StageArgs } from './context.ts';

/** Generates one data set (a training set, or the test set) as points.bin. */
export function runDataStage(args: StageArgs, log: (s: string) => void): void {
  const plan = loadPlan(args);
  const ds = [...plan.testSets, ...plan.datasets].find((d) => d.id === args.id);
  if (!ds) throw new ConfigError(`profile ${plan.profile} has no data set "${args.id}"`);
  checkSpec(args, `data set ${plan.profile}/${ds.id}`, ds.spec);
  rmSync(ds.files.points, { force: true });
  const { n, sparsity, count, label } = ds.spec;
  const points = withRepeats(generatePoints({ n, sparsity }, count, Rng.fromLabel(label)), ds.spec.repeats ?? 1);
  writeSparsePoints(ds.files.points, points, { ...ds.spec });
  writeJsonAtomic(ds.files.description, { ...ds.spec, nnz: points.col.length, meanActive: points.col.length / count });
  log(`[${ds.id}] ${count} points, ${n} features, ${(points.col.length / count).toFixed(2)} active per point${ds.spec.repeats ? `, point 0 appearing ${ds.spec.repeats} times` : ''}`);
}
