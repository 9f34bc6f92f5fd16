import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readSparsePoints } from '../format/sparse.ts';
import { writeWeights } from '../format/weights.ts';
import { writeJsonAtomic } from '../format/atomic.ts';
import { ConfigError } from '../config/load.ts';
import { trainRun } from '../train/train-run.ts';
import { engineByName } from '../train/engines.ts';
import { specHash } from '../config/plan.ts';
import { checkSpec, loadPlan, type StageArgs } from './context.ts';

/**
 * Trains one run (best of k inits) and writes weights.bin, metrics.json (deterministic) and
 * timing.json (wall time). A checkpoint.bin is kept while it runs, so that a killed task
 * started again resumes; it is removed once the outputs are written.
 */
export async function runTrainStage(args: StageArgs, log: (s: string) => void): Promise<void> {
  const plan = loadPlan(args);
  const run = plan.runs.find((r) => r.id === args.id);
  if (!run) throw new ConfigError(`profile ${plan.profile} has no run "${args.id}"`);
  checkSpec(args, `run ${plan.profile}/${run.id}`, run.spec);
  // Stale results of an earlier spec must not survive a failed run looking complete.
  for (const f of ['weights.bin', 'metrics.json', 'timing.json']) rmSync(join(run.dir, f), { force: true });
  const train = run.dataset ? readSparsePoints(join(plan.dataDir, 'datasets', run.dataset, 'points.bin')) : null;
  const test = readSparsePoints(join(plan.testSet.dir, 'points.bin'));
  const engine = await engineByName(run.spec.training.engine, run.execution.workers);
  const checkpoint = {
    file: join(run.dir, 'checkpoint.bin'),
    everySteps: run.execution.checkpointEverySteps,
    key: `${specHash(run.spec)}/${engine.name}/${engine.version}`,
  };
  let result;
  try {
    result = await trainRun(run, train, test, engine, log, checkpoint);
  } finally {
    await engine.close?.();
  }
  const { params, metrics, wallTimeSeconds, resumedFrom } = result;
  writeWeights(join(run.dir, 'weights.bin'), params, { run: run.id, profile: plan.profile });
  writeJsonAtomic(join(run.dir, 'metrics.json'), metrics);
  writeJsonAtomic(join(run.dir, 'timing.json'), { run: run.id, engine: metrics.engine, wallTimeSeconds, resumedFrom });
  rmSync(checkpoint.file, { force: true });
  log(`[${run.id}] final training loss ${metrics.finalTrainLoss.toFixed(6)}, test loss ${metrics.testLoss.toFixed(6)} (init ${metrics.chosenInit} of ${metrics.inits.length})`);
}
