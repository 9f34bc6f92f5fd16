import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProfilePlan, RunPlan } from '../config/plan.ts';
import type { FigureFile } from './figure-file.ts';
import { ConfigError } from '../config/load.ts';

export type Row = Record<string, unknown>;

/** The runs a figure draws: its m, and its sizes that the profile has (all of them for "all"). */
export function figureRuns(plan: ProfilePlan, fig: FigureFile): RunPlan[] {
  return plan.runs.filter((r) => r.m === fig.m && (fig.sizes === 'all' || fig.sizes.includes(r.T)));
}

function readTable(file: string): Row[] {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: cannot be read as a table (${(e as Error).message}); build the run's geometry first`);
  }
}

/**
 * Gathers the per-run geometry tables into one table each, adding the run's fields.
 * T is null for infinity; Tx is where a run sits on a log T axis (infinity one step right
 * of the largest finite T); Tlabel is how T is printed.
 */
export function gatherTables(plan: ProfilePlan, fig: FigureFile): Record<string, Row[]> {
  const runs = figureRuns(plan, fig);
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
    for (const table of fig.tables) {
      const file = join(r.dir, 'geometry', table === 'runs' ? 'summary.json' : `${table}.json`);
      const rows = table === 'runs' ? [readTable(file) as unknown as Row] : readTable(file);
      for (const row of rows) out[table].push({ ...row, ...key });
    }
  }
  return out;
}
