import type { FigurePlan } from '../config/figures.ts';
import { readJson } from '../format/json.ts';
import { FormatError } from '../format/error.ts';

export type Row = Record<string, unknown>;

function readTable(file: string): unknown {
  try {
    return readJson(file);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(file, `${e.message.slice(file.length + 2)}; build the run's geometry first`);
    throw e;
  }
}

/**
 * Gathers the per-run geometry tables into one table each, adding the run's fields.
 * T is null for infinity; Tx is where a run sits on a log T axis (infinity one step right
 * of the largest finite T); Tlabel is how T is printed.
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
      Tlabel: r.T === 'infinity' ? '∞' : r.T >= 1000 && r.T % 1000 === 0 ? `${r.T / 1000}k` : String(r.T),
      m: r.m,
      datasetSeed: r.datasetSeed,
    };
    const files = { runs: r.files.geometry.summary, features: r.files.geometry.features, examples: r.files.geometry.examples };
    for (const table of fig.tables) {
      const content = readTable(files[table]);
      const rows = (table === 'runs' ? [content] : content) as Row[];
      for (const row of rows) out[table].push({ ...row, ...key });
    }
  }
  return out;
}
