import type { FigurePlan, Table } from '../config/figures.ts';
import type { RunPlan } from '../config/plan.ts';
import { readJson } from '../format/json.ts';
import { FormatError } from '../format/error.ts';
import { findRegimes } from '../geometry/regimes.ts';

export type Row = Record<string, unknown>;

/** What a `vectors` row is: a feature vector W_i, or the hidden vector h_t = W x_t of a training example. */
export type VectorKind = 'feature' | 'example';

function readTable(file: string): unknown {
  try {
    return readJson(file);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(file, `${e.message.slice(file.length + 2)}; build the run's geometry first`);
    throw e;
  }
}

function asRows(rows: unknown, file: string): Row[] {
  if (!Array.isArray(rows)) throw new FormatError(file, 'expected a list of rows');
  return rows as Row[];
}

const withKind = (rows: Row[], kind: VectorKind) => rows.map((row) => ({ ...row, kind }));

/** Reads a geometry file (once per figure, however many tables need it). */
type Load = (file: string) => unknown;

/** Each table's rows for one run, before the run's fields are added (regimes are a table of the whole figure). */
const tableRows: Record<Exclude<Table, 'regimes'>, (g: RunPlan['files']['geometry'], load: Load) => Row[]> = {
  runs: (g, load) => [load(g.summary) as Row],
  features: (g, load) => asRows(load(g.features), g.features),
  examples: (g, load) => asRows(load(g.examples), g.examples),
  vectors: (g, load) => [...withKind(asRows(load(g.features), g.features), 'feature'), ...withKind(asRows(load(g.examples), g.examples), 'example')],
  moments: (g, load) => momentsOf(load(g.moments), g.moments).summary,
  momentVectors: (g, load) => momentsOf(load(g.moments), g.moments).vectors,
};

/** A run's moments.json: one summary row per weight snapshot, and its vectors. */
function momentsOf(m: unknown, file: string): { summary: Row[]; vectors: Row[] } {
  const o = m as { summary?: unknown; vectors?: unknown } | null;
  if (!Array.isArray(o?.summary) || !Array.isArray(o?.vectors))
    throw new FormatError(file, 'expected {summary: [...], vectors: [...]}; does the run keep weight snapshots (training.weightSnapshots)?');
  return o as { summary: Row[]; vectors: Row[] };
}

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
  // Each geometry file read once, though several tables (vectors, regimes) may need it.
  const read = new Map<string, unknown>();
  const load: Load = (file) => (read.has(file) ? read.get(file) : read.set(file, readTable(file)).get(file));
  const out: Record<string, Row[]> = {};
  for (const table of fig.tables) out[table] = [];
  for (const r of runs) {
    const key = {
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
function regimeBands(runs: RunPlan[], finite: number[], load: Load): Row[] {
  const dims = (file: string) => asRows(load(file), file).map((row) => row.dimensionality as number);
  const { lastMemorised, firstFeatures } = findRegimes(
    runs.map((r) => ({ T: r.T, m: r.m, featureDimensionality: dims(r.files.geometry.features), exampleDimensionality: dims(r.files.geometry.examples) })),
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
  const bands: Row[] = [
    { regime: 'small data', x0: lo, x1: smallEnd },
    { regime: 'middle', x0: smallEnd, x1: largeStart },
    { regime: 'large data', x0: largeStart, x1: hi },
  ];
  return bands.filter((b) => (b.x1 as number) > (b.x0 as number));
}
