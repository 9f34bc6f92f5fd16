import type { FigurePlan, Table } from '../config/figures.ts';
import type { RunPlan } from '../config/plan.ts';
import { readJson } from '../format/json.ts';
import { FormatError } from '../format/error.ts';

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

function readRows(file: string): Row[] {
  const rows = readTable(file);
  if (!Array.isArray(rows)) throw new FormatError(file, 'expected a list of rows');
  return rows as Row[];
}

const withKind = (rows: Row[], kind: VectorKind) => rows.map((row) => ({ ...row, kind }));

/** Each table's rows for one run, before the run's fields are added. */
const tableRows: Record<Table, (files: RunPlan['files']['geometry']) => Row[]> = {
  runs: (g) => [readTable(g.summary) as Row],
  features: (g) => readRows(g.features),
  examples: (g) => readRows(g.examples),
  vectors: (g) => [...withKind(readRows(g.features), 'feature'), ...withKind(readRows(g.examples), 'example')],
};

/** How T is printed: '5', '2k' for whole thousands, '∞'. */
const sizeLabel = (T: RunPlan['T']) => (T === 'infinity' ? '∞' : T >= 1000 && T % 1000 === 0 ? `${T / 1000}k` : String(T));

/**
 * Gathers the per-run geometry tables of a figure's runs into one table each, adding the run's fields.
 * T is null for infinity; Tx is where a run sits on a log T axis (infinity one step, 4x, right of the
 * largest finite T); Tlabel is how T is printed.
 */
export function gatherTables({ figure: fig, runs }: FigurePlan): Record<string, Row[]> {
  const finite = runs.map((r) => r.T).filter((T): T is number => T !== 'infinity');
  const infX = (finite.length ? Math.max(...finite) : 1) * 4;
  const out: Record<string, Row[]> = {};
  for (const table of fig.tables) out[table] = [];
  for (const r of runs) {
    const key = {
      run: r.id,
      T: r.T === 'infinity' ? null : r.T,
      Tx: r.T === 'infinity' ? infX : r.T,
      Tlabel: sizeLabel(r.T),
      m: r.m,
      datasetSeed: r.datasetSeed,
    };
    for (const table of fig.tables) for (const row of tableRows[table](r.files.geometry)) out[table].push({ ...row, ...key });
  }
  return out;
}
