import type { z } from 'zod';
import type { FigurePlan, Table } from '../config/figures.ts';
import type { RunPlan } from '../config/plan.ts';
import { readJson } from '../files/json.ts';
import { FormatError } from '../files/error.ts';
import { findRegimes } from '../geometry/regimes.ts';
import { parseContract } from '../contracts/read.ts';
import { Summary } from '../contracts/summary.ts';
import { Features } from '../contracts/features.ts';
import { Examples } from '../contracts/examples.ts';
import { Moments } from '../contracts/moments.ts';
import type { RegimeRow, RunFields, VectorKind } from '../contracts/tables.ts';

/** A row of a table as the spec sees it; each table's fixed columns are in contracts/tables.ts. */
export type Row = Record<string, unknown>;

export type { VectorKind };

/** A geometry file as its contract says it is; unreadable, it names the file and says to build the run's geometry. */
function readTable<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = readJson(file);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(file, `${e.message.slice(file.length + 2)}; build the run's geometry first`);
    throw e;
  }
  return parseContract(file, schema, raw);
}

type Geometry = RunPlan['files']['geometry'];

/** A run's geometry files, each read once per figure however many tables need it (vectors, regimes). */
function geometryReader() {
  const read = new Map<string, unknown>();
  const once = <S extends z.ZodType>(file: string, schema: S) => (read.has(file) ? read.get(file) : read.set(file, readTable(file, schema)).get(file)) as z.output<S>;
  return {
    summary: (g: Geometry) => once(g.summary, Summary),
    features: (g: Geometry) => once(g.features, Features),
    examples: (g: Geometry) => once(g.examples, Examples),
    moments: (g: Geometry) => once(g.moments, Moments),
  };
}
type Load = ReturnType<typeof geometryReader>;

const withKind = <R extends Row, K extends VectorKind>(rows: R[], kind: K) => rows.map((row) => ({ ...row, kind }));

/** Each table's rows for one run, before the run's fields are added (regimes are a table of the whole figure). */
const tableRows = {
  runs: (g, load) => {
    const { inits: _, ...run } = load.summary(g);
    return [run];
  },
  inits: (g, load) => load.summary(g).inits,
  features: (g, load) => load.features(g),
  examples: (g, load) => load.examples(g),
  vectors: (g, load) => [...withKind(load.features(g), 'feature'), ...withKind(load.examples(g), 'example')],
  moments: (g, load) => load.moments(g).summary,
  momentVectors: (g, load) => load.moments(g).vectors,
} satisfies Record<Exclude<Table, 'regimes'>, (g: Geometry, load: Load) => Row[]>;

/** How T is printed: '5', '2k' for whole thousands, '∞'. */
const sizeLabel = (T: RunPlan['T']) => (T === 'infinity' ? '∞' : T >= 1000 && T % 1000 === 0 ? `${T / 1000}k` : String(T));

/**
 * Gathers the per-run geometry tables of a figure's runs into one table each, adding the run's fields.
 * T is null for infinity; Tx is where a run sits on a log T axis (infinity one step, 4x, right of the
 * largest finite T); Tlabel is how T is printed.
 */
export function gatherTables({ figure: fig, runs }: FigurePlan): Record<string, Row[]> {
  const finite = [...new Set(runs.map((r) => r.T).filter((T): T is number => T !== 'infinity'))].sort((a, b) => a - b);
  const infX = (finite.length ? Math.max(...finite) : 1) * 4;
  const x = (T: RunPlan['T']) => (T === 'infinity' ? infX : T);
  const strip = new Set((fig.strip ?? []).map((target) => nearest(runs.map((r) => r.T), target, x)));
  const load = geometryReader();
  const out: Record<string, Row[]> = {};
  for (const table of fig.tables) out[table] = [];
  for (const r of runs) {
    const key: RunFields = {
      run: r.id,
      T: r.T === 'infinity' ? null : r.T,
      Tx: x(r.T),
      Tlabel: sizeLabel(r.T),
      m: r.m,
      datasetSeed: r.datasetSeed,
      // What a sweep may vary, for specs that colour or facet by it.
      sparsity: r.spec.sparsity,
      weightDecay: r.spec.training.weightDecay,
      steps: r.spec.training.steps,
      peakLearningRate: r.spec.training.peakLearningRate,
      repeats: r.repeats,
      ...(fig.strip ? { inStrip: strip.has(r.T) } : {}),
    };
    for (const table of fig.tables) if (table !== 'regimes') for (const row of tableRows[table](r.files.geometry, load)) out[table].push({ ...row, ...key });
  }
  if (fig.tables.includes('regimes')) out.regimes = regimeBands(runs, finite, load);
  return out;
}

/** The size among `sizes` nearest to `target` on a log scale (infinity only for infinity). */
function nearest(sizes: RunPlan['T'][], target: RunPlan['T'], x: (T: RunPlan['T']) => number): RunPlan['T'] {
  if (target === 'infinity') return 'infinity';
  const finite = sizes.filter((T) => T !== 'infinity');
  return finite.reduce((a, b) => (Math.abs(Math.log(x(b) / target)) < Math.abs(Math.log(x(a) / target)) ? b : a), finite[0]);
}

/**
 * The regimes as bands on the log T axis of the finite sizes: each band reaches halfway (geometrically)
 * to the neighbouring size of the next regime. Rows: regime, x0, x1 (in Tx units).
 */
function regimeBands(runs: RunPlan[], finite: number[], load: Load): RegimeRow[] {
  const dims = (rows: { dimensionality: number }[]) => rows.map((row) => row.dimensionality);
  const { lastMemorised, firstFeatures } = findRegimes(
    runs.map((r) => ({ T: r.T, m: r.m, featureDimensionality: dims(load.features(r.files.geometry)), exampleDimensionality: dims(load.examples(r.files.geometry)) })),
  );
  if (finite.length === 0) return [];
  const lo = finite[0] / 1.3, hi = finite[finite.length - 1] * 1.3;
  const edgeAfter = (T: number) => {
    const next = finite.find((t) => t > T);
    return next === undefined ? hi : Math.sqrt(T * next);
  };
  const smallEnd = lastMemorised ? edgeAfter(lastMemorised) : lo;
  const first = typeof firstFeatures === 'number' ? firstFeatures : undefined;
  const largeStart = first === undefined ? hi : Math.sqrt(first * ([...finite].reverse().find((t) => t < first) ?? first / 1.69));
  const bands: RegimeRow[] = [
    { regime: 'small data', x0: lo, x1: smallEnd },
    { regime: 'middle', x0: smallEnd, x1: largeStart },
    { regime: 'large data', x0: largeStart, x1: hi },
  ];
  return bands.filter((b) => b.x1 > b.x0);
}
