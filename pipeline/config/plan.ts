import { createHash } from 'node:crypto';
import type { Profile, TrainingConfig, DatasetSize } from './schema.ts';
import { streamLabel } from '../data/generate.ts';

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
  dir: string; // relative to the workspace
  spec: { purpose: 'train' | 'test'; n: number; sparsity: number; count: number; seed: number; emptyPoint: 'redraw'; label: string };
}

export interface RunPlan {
  id: string; // e.g. "T30-m2-s0"
  dir: string;
  T: DatasetSize;
  m: number;
  datasetSeed: number;
  dataset: string | null; // dataset id; null for T = infinity
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
}

export interface ProfilePlan {
  profile: string;
  dataDir: string;
  distDir: string;
  testSet: DatasetPlan;
  datasets: DatasetPlan[];
  runs: RunPlan[];
  figures: string[];
}

export function planProfile(name: string, p: Profile): ProfilePlan {
  const dataDir = `data/${name}`;
  const dist = { n: p.data.features, sparsity: p.data.sparsity };
  const testSet: DatasetPlan = {
    id: 'test',
    dir: `${dataDir}/datasets/test`,
    spec: {
      purpose: 'test', ...dist, count: p.data.testSetSize, seed: p.data.testSeed, emptyPoint: p.data.emptyPoint,
      label: streamLabel('test', dist, { size: p.data.testSetSize, seed: p.data.testSeed }),
    },
  };
  const datasets: DatasetPlan[] = [];
  const runs: RunPlan[] = [];
  for (const T of p.datasetSizes) {
    for (const seed of p.data.datasetSeeds) {
      const dsId = T === 'infinity' ? null : `T${T}-s${seed}`;
      if (T !== 'infinity') {
        datasets.push({
          id: dsId!,
          dir: `${dataDir}/datasets/${dsId}`,
          spec: { purpose: 'train', ...dist, count: T, seed, emptyPoint: p.data.emptyPoint, label: streamLabel('train', dist, { T, seed }) },
        });
      }
      for (const m of p.model.hiddenDims) {
        let training: TrainingConfig = p.training;
        for (const o of p.runOverrides) {
          if (o.T === T && (o.m === undefined || o.m === m) && (o.datasetSeed === undefined || o.datasetSeed === seed))
            training = { ...training, ...(o.training as Partial<TrainingConfig>) };
        }
        const id = `T${sizeId(T)}-m${m}-s${seed}`;
        runs.push({
          id, dir: `${dataDir}/runs/${id}`, T, m, datasetSeed: seed, dataset: dsId,
          spec: {
            T, m, ...dist, datasetSeed: seed, emptyPoint: p.data.emptyPoint, model: p.model, training,
            onlineLabel: T === 'infinity' ? streamLabel('online', dist, { batch: training.onlineBatchSize, seed }) : null,
            // Inits depend on (n, m, seed) but not on T: every T starts from the same weights.
            initLabel: `init/n=${dist.n}/m=${m}/seed=${seed}`,
            geometry: p.geometry,
          },
          execution: p.execution,
        });
      }
    }
  }
  return { profile: name, dataDir, distDir: `dist/${name}`, testSet, datasets, runs, figures: p.figures };
}
