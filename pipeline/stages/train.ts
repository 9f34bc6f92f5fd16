import { rmSync } from 'node:fs';
import { readSparsePoints } from '../format/sparse.ts';
import { writeWeights } from '../format/weights.ts';
import { writeSnapshots } from '../format/snapshots.ts';
import { writeInits } from '../format/inits.ts';
import { writeJsonAtomic } from '../files/json.ts';
import type { Timing } from '../contracts/timing.ts';
import { trainRun } from '../train/train-run.ts';
import { ENGINE_NAMES, openEngine, runThreads } from '../engines/registry.ts';
import { batchSize } from '../config/size.ts';
import { specHash } from '../config/plan.ts';
import { ConfigError } from '../config/load.ts';
import { planRun, REQUIRE_CACHED_TRAINING, type StageArgs } from './context.ts';

/**
 * Trains one run (best of k inits) and writes weights.bin, inits.bin (every init's), metrics.json (deterministic) and
 * timing.json (wall time). A checkpoint.bin is kept while it runs, so that a killed task
 * started again resumes; it is removed once the outputs are written.
 */
export async function runTrainStage(args: StageArgs, log: (s: string) => void): Promise<void> {
  // Every training.engine names a registered engine: checked here, where engines are loaded (the config does not know them).
  const { plan, run } = planRun(args, { engines: ENGINE_NAMES });
  const { files } = run;
  if (process.env[REQUIRE_CACHED_TRAINING] === '1')
    throw new ConfigError(`run ${run.id} of profile ${plan.profile}: its training is not in the cache, and this build trains nothing (its shard has not finished; --allow-local-training trains it here)`);
  // Stale results of an earlier spec must not survive a failed run looking complete.
  for (const f of [files.weights, files.inits, files.metrics, files.timing, files.snapshots]) rmSync(f, { force: true });
  const train = run.dataset ? readSparsePoints(run.dataset.files.points) : null;
  const test = readSparsePoints(run.testSet.files.points);
  // execution.workers threads for a large step; a small one trains on one thread, beside other runs (registry.ts runThreads).
  const engine = await openEngine(run.spec.training.engine, runThreads(run.spec.training.engine, run.execution.workers, batchSize(run.T, run.spec.training) * run.spec.n));
  const checkpoint = { file: files.checkpoint, everySteps: run.execution.checkpointEverySteps, key: `${specHash(run.spec)}/${engine.name}/${engine.version}` };
  let result;
  try {
    result = await trainRun(run, train, test, engine, log, checkpoint);
  } finally {
    await engine.close?.();
  }
  const { params, finals, snapshots, metrics, wallTimeSeconds, resumedFrom } = result;
  writeWeights(files.weights, params, { run: run.id, profile: plan.profile });
  writeInits(files.inits, finals, metrics.chosenInit, { run: run.id, profile: plan.profile });
  if (snapshots.length) writeSnapshots(files.snapshots, snapshots, params.n, params.m, { run: run.id, profile: plan.profile, init: metrics.chosenInit });
  writeJsonAtomic(files.metrics, metrics);
  writeJsonAtomic(files.timing, { run: run.id, engine: metrics.engine, wallTimeSeconds, resumedFrom } satisfies Timing);
  rmSync(files.checkpoint, { force: true });
  log(`[${run.id}] final training loss ${metrics.finalTrainLoss.toPrecision(6)}, test loss ${metrics.testLoss.toPrecision(6)} (init ${metrics.chosenInit} of ${metrics.inits.length})`);
}
