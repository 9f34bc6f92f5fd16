import { createHash } from 'node:crypto';
import type { Profile, TrainingConfig, RunOverride, Sweep } from './schema.ts';
import { streams } from '../prng/streams.ts';
import { datasetFiles, profileDistDir, runFiles, type DatasetFiles, type RunFiles } from './layout.ts';
import { isInfinite, sizeId, type DatasetSize } from './size.ts';

/** JSON with sorted keys: the same value always gives the same text and hash. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}
export const specHash = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);

export interface DatasetPlan {
  id: string; // e.g. "T30-s0" or "test"
  files: DatasetFiles;
  spec: {
    purpose: 'train' | 'test'; n: number; sparsity: number; count: number; seed: number; emptyPoint: 'redraw'; label: string;
    /** Times the first point appears (the last repeats - 1 points are copies of it); absent for a plain set. */
    repeats?: number;
  };
}

export interface RunPlan {
  id: string; // e.g. "T30-m2-s0"
  files: RunFiles;
  T: DatasetSize;
  m: number;
  datasetSeed: number;
  /** Times the training set's first point appears in it (1: a plain set). */
  repeats: number;
  dataset: DatasetPlan | null; // its training set; null for T = infinity
  testSet: DatasetPlan;
  spec: {
    T: DatasetSize;
    m: number;
    n: number;
    sparsity: number;
    datasetSeed: number;
    emptyPoint: 'redraw';
    repeats?: number; // as in the data set's spec
    model: Profile['model'];
    training: TrainingConfig;
    onlineLabel: string | null; // PRNG stream of the fresh batches when T is infinity
    initLabel: string; // prefix of the PRNG streams of the inits
    geometry: Profile['geometry'];
  };
  /** Not part of the spec: it does not change the result. */
  execution: Profile['execution'];
}

export interface ProfilePlan {
  profile: string;
  distDir: string;
  /** The test set of the profile's own sparsity. */
  testSet: DatasetPlan;
  /** One test set per sparsity the profile's grids use (its own first). */
  testSets: DatasetPlan[];
  datasets: DatasetPlan[];
  /** Every run of every grid, each once. */
  runs: RunPlan[];
  /** Each grid's runs by name: MAIN_SWEEP (T x m x seed of the profile) and the profile's `sweeps`. */
  sweeps: Record<string, RunPlan[]>;
  figures: string[];
}

/** The profile's own grid: datasetSizes x model.hiddenDims x data.datasetSeeds. */
export const MAIN_SWEEP = 'main';

type RunKey = { T: DatasetSize; m: number; datasetSeed: number };
const runId = (r: RunKey) => `T${sizeId(r.T)}-m${r.m}-s${r.datasetSeed}`;

/** Whether a run override applies to a run: the same T, m and seed, where it names them. */
export const overrideMatches = (o: RunOverride, r: RunKey) =>
  (o.T === undefined || o.T === r.T) && (o.m === undefined || o.m === r.m) && (o.datasetSeed === undefined || o.datasetSeed === r.datasetSeed);

/** A run's training settings: the profile's, then each run override that matches it, in order. */
function runTraining(p: Profile, r: RunKey): TrainingConfig {
  return p.runOverrides.filter((o) => overrideMatches(o, r)).reduce<TrainingConfig>((t, o) => ({ ...t, ...o.training }), p.training);
}

/** What a run or data set id adds for a sparsity other than the profile's (-S0.99), and for a repeated point (-r10). */
const sparsityId = (S: number, p: Profile) => (S === p.data.sparsity ? '' : `-S${S}`);
const repeatsId = (r: number) => (r === 1 ? '' : `-r${r}`);

/** One run of one grid, as the grid and the run overrides make it (before any data set or stream is named). */
export interface GridRun {
  /** The grid's name: MAIN_SWEEP or one of the profile's sweeps. */
  sweep: string;
  S: number;
  T: DatasetSize;
  datasetSeed: number;
  repeats: number;
  m: number;
  /** The index of its value in the sweep's `vary.values`, when the sweep varies a setting. */
  variant?: number;
  /** The grid's training settings: the profile's, the sweep's, its varied value, then its warmupFraction. */
  grid: TrainingConfig;
  /** The run's: the grid's, then each run override that matches it, in order. */
  training: TrainingConfig;
  /** T, m, seed, and what differs from the profile: its sparsity, repeats and grid settings, numbers as JavaScript prints them (T30-m4-s0-weightDecay1e-5). */
  id: string;
}

/**
 * Whether a sweep only adds dataset seeds to the grid it repeats: it gives `datasetSeeds` and nothing
 * beyond `datasetSizes`, `hiddenDims` and a description, so it changes no training. Its sizes are taken
 * among the profile's own `datasetSizes` (a profile that extends another keeps the seed sweeps it
 * inherits, on the sizes it has); figures draw it beside that grid, and verify takes its runs into that
 * grid's claims.
 */
export function isSeedSweep(g: Partial<Sweep>): boolean {
  const only = new Set(['description', 'datasetSizes', 'hiddenDims', 'datasetSeeds']);
  return g.datasetSeeds !== undefined && Object.keys(g).every((k) => only.has(k));
}

/**
 * Every run of every grid of a profile, in a fixed order: the grids (main first, then the sweeps as
 * written), and in each sparsity, T, seed, repeats, m, then the varied value. A run that two grids share
 * appears once per grid. The one expansion of the grids: the planner plans these runs, and the loader
 * checks them (load.ts).
 */
export function expandGrids(p: Profile): GridRun[] {
  const out: GridRun[] = [];
  for (const [sweep, g] of [[MAIN_SWEEP, {}] as const, ...Object.entries(p.sweeps)] as [string, Partial<Sweep>][]) {
    const variants: [number | undefined, Partial<TrainingConfig>][] = g.vary ? g.vary.values.map((v, i) => [i, { [g.vary!.field]: v }]) : [[undefined, {}]];
    for (const S of g.sparsities ?? [p.data.sparsity])
      for (const T of (g.datasetSizes ?? p.datasetSizes).filter((T) => !isSeedSweep(g) || p.datasetSizes.includes(T)))
        for (const datasetSeed of g.datasetSeeds ?? p.data.datasetSeeds)
          for (const repeats of g.repeats ?? [1])
            for (const m of g.hiddenDims ?? p.model.hiddenDims)
              for (const [variant, value] of variants) {
                const key = { T, m, datasetSeed };
                // The grid's settings, then the run overrides (a cost choice for a (T, m, seed), whatever the grid).
                const grid: TrainingConfig = { ...p.training, ...g.training, ...value };
                if (g.warmupFraction !== undefined) grid.warmupSteps = Math.round(g.warmupFraction * grid.steps);
                const training = runTraining({ ...p, training: grid }, key);
                const changed = (Object.keys(grid) as (keyof TrainingConfig)[]).filter((k) => JSON.stringify(grid[k]) !== JSON.stringify(p.training[k])).sort();
                const id = runId(key) + sparsityId(S, p) + repeatsId(repeats) + changed.map((k) => `-${k}${grid[k]}`).join('');
                out.push({ sweep, S, T, datasetSeed, repeats, m, ...(variant === undefined ? {} : { variant }), grid, training, id });
              }
  }
  return out;
}

/**
 * The runs of every grid of a profile, each run once: a run that two grids share (the same id, made
 * from its T, m, seed and the settings that differ from the profile's) is planned once, and must have
 * the same spec in both.
 */
export function planProfile(name: string, p: Profile): ProfilePlan {
  const testSets = new Map<number, DatasetPlan>();
  const datasets = new Map<string, DatasetPlan>();
  const runs = new Map<string, RunPlan>();
  const sweeps: Record<string, RunPlan[]> = { [MAIN_SWEEP]: [], ...Object.fromEntries(Object.keys(p.sweeps).map((s) => [s, []])) };
  const testSetOf = (S: number): DatasetPlan => {
    let ds = testSets.get(S);
    if (!ds) {
      const dist = { n: p.data.features, sparsity: S };
      const id = `test${sparsityId(S, p)}`;
      ds = {
        id, files: datasetFiles(name, id),
        spec: {
          purpose: 'test', ...dist, count: p.data.testSetSize, seed: p.data.testSeed, emptyPoint: p.data.emptyPoint,
          label: streams.testSet(dist, p.data.testSetSize, p.data.testSeed),
        },
      };
      testSets.set(S, ds);
    }
    return ds;
  };
  const trainingSetOf = (T: number, seed: number, S: number, repeats: number): DatasetPlan => {
    const id = `T${sizeId(T)}-s${seed}${sparsityId(S, p)}${repeatsId(repeats)}`;
    let ds = datasets.get(id);
    if (!ds) {
      const dist = { n: p.data.features, sparsity: S };
      ds = {
        id, files: datasetFiles(name, id),
        spec: { purpose: 'train', ...dist, count: T, seed, emptyPoint: p.data.emptyPoint, label: streams.trainingSet(dist, T, seed), ...(repeats > 1 ? { repeats } : {}) },
      };
      datasets.set(id, ds);
    }
    return ds;
  };
  testSetOf(p.data.sparsity);
  for (const { sweep, S, T, datasetSeed: seed, repeats, m, training, id } of expandGrids(p)) {
    const dist = { n: p.data.features, sparsity: S };
    const dataset = isInfinite(T) ? null : trainingSetOf(T, seed, S, repeats);
    const run: RunPlan = {
      id, files: runFiles(name, id), T, m, datasetSeed: seed, repeats, dataset, testSet: testSetOf(S),
      spec: {
        T, m, ...dist, datasetSeed: seed, emptyPoint: p.data.emptyPoint, ...(repeats > 1 ? { repeats } : {}), model: p.model, training,
        onlineLabel: isInfinite(T) ? streams.online(dist, training.onlineBatchSize, seed) : null,
        initLabel: streams.inits(dist.n, m, seed),
        geometry: p.geometry,
      },
      execution: p.execution,
    };
    const same = runs.get(id);
    if (same && specHash(same.spec) !== specHash(run.spec))
      throw new Error(`profile ${name}: run ${id} of sweep ${sweep} has another spec than the run of that id already planned`);
    if (!same) runs.set(id, run);
    sweeps[sweep].push(same ?? run);
  }
  const allTestSets = [...testSets.values()];
  return {
    profile: name, distDir: profileDistDir(name), testSet: allTestSets[0], testSets: allTestSets,
    datasets: [...datasets.values()], runs: [...runs.values()], sweeps, figures: p.figures,
  };
}
