import { createHash } from 'node:crypto';
import type { Profile, TrainingConfig, DatasetSize, RunOverride } from './schema.ts';
import { streams } from '../prng/streams.ts';
import { engineThreads } from '../engines/registry.ts';
import { datasetFiles, profileDistDir, runFiles, type DatasetFiles, type RunFiles } from './layout.ts';

/** JSON with sorted keys: the same value always gives the same text and hash. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}
export const specHash = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, 16);

export const sizeId = (T: DatasetSize) => (T === 'infinity' ? 'inf' : String(T));

export interface DatasetPlan {
  id: string; // e.g. "T30-s0" or "test"
  files: DatasetFiles;
  spec: { purpose: 'train' | 'test'; n: number; sparsity: number; count: number; seed: number; emptyPoint: 'redraw'; label: string };
}

export interface RunPlan {
  id: string; // e.g. "T30-m2-s0"
  files: RunFiles;
  T: DatasetSize;
  m: number;
  datasetSeed: number;
  dataset: DatasetPlan | null; // its training set; null for T = infinity
  testSet: DatasetPlan;
  spec: {
    T: DatasetSize;
    m: number;
    n: number;
    sparsity: number;
    datasetSeed: number;
    emptyPoint: 'redraw';
    model: Profile['model'];
    training: TrainingConfig;
    onlineLabel: string | null; // PRNG stream of the fresh batches when T is infinity
    initLabel: string; // prefix of the PRNG streams of the inits
    geometry: Profile['geometry'];
  };
  /** Not part of the spec: it does not change the result. */
  execution: Profile['execution'];
  /** Threads one training step uses: a run with more than one takes the whole machine. */
  threads: number;
}

export interface ProfilePlan {
  profile: string;
  distDir: string;
  testSet: DatasetPlan;
  datasets: DatasetPlan[];
  runs: RunPlan[];
  figures: string[];
}

type RunKey = { T: DatasetSize; m: number; datasetSeed: number };
export const runId = (r: RunKey) => `T${sizeId(r.T)}-m${r.m}-s${r.datasetSeed}`;

/** Whether a run override applies to a run: same T, and the same m and seed where it names them. */
export const overrideMatches = (o: RunOverride, r: RunKey) =>
  o.T === r.T && (o.m === undefined || o.m === r.m) && (o.datasetSeed === undefined || o.datasetSeed === r.datasetSeed);

/** A run's training settings: the profile's, then each run override that matches it, in order. */
export function runTraining(p: Profile, r: RunKey): TrainingConfig {
  return p.runOverrides.filter((o) => overrideMatches(o, r)).reduce<TrainingConfig>((t, o) => ({ ...t, ...o.training }), p.training);
}

export function planProfile(name: string, p: Profile): ProfilePlan {
  const dist = { n: p.data.features, sparsity: p.data.sparsity };
  const testSet: DatasetPlan = {
    id: 'test',
    files: datasetFiles(name, 'test'),
    spec: {
      purpose: 'test', ...dist, count: p.data.testSetSize, seed: p.data.testSeed, emptyPoint: p.data.emptyPoint,
      label: streams.testSet(dist, p.data.testSetSize, p.data.testSeed),
    },
  };
  const datasets: DatasetPlan[] = [];
  const runs: RunPlan[] = [];
  for (const T of p.datasetSizes) {
    for (const seed of p.data.datasetSeeds) {
      let dataset: DatasetPlan | null = null;
      if (T !== 'infinity') {
        const id = `T${T}-s${seed}`;
        dataset = {
          id, files: datasetFiles(name, id),
          spec: { purpose: 'train', ...dist, count: T, seed, emptyPoint: p.data.emptyPoint, label: streams.trainingSet(dist, T, seed) },
        };
        datasets.push(dataset);
      }
      for (const m of p.model.hiddenDims) {
        const key = { T, m, datasetSeed: seed };
        const training = runTraining(p, key);
        const id = runId(key);
        const batch = T === 'infinity' ? training.onlineBatchSize : T;
        runs.push({
          id, files: runFiles(name, id), T, m, datasetSeed: seed, dataset, testSet,
          spec: {
            T, m, ...dist, datasetSeed: seed, emptyPoint: p.data.emptyPoint, model: p.model, training,
            onlineLabel: T === 'infinity' ? streams.online(dist, training.onlineBatchSize, seed) : null,
            initLabel: streams.inits(dist.n, m, seed),
            geometry: p.geometry,
          },
          execution: p.execution,
          threads: engineThreads(training.engine, p.execution.workers, batch * dist.n),
        });
      }
    }
  }
  return { profile: name, distDir: profileDistDir(name), testSet, datasets, runs, figures: p.figures };
}
