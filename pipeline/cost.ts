import { existsSync } from 'node:fs';
import type { RunPlan } from './config/plan.ts';
import { batchSize } from './config/size.ts';
import { readContract } from './contracts/read.ts';
import { Timing } from './contracts/timing.ts';

/**
 * What runs cost (`npm run cost`, commands/cost.ts; the shard split, scale/shards.ts): the (point, feature)
 * pairs a run's training touches (batch x n x steps x inits: one full-batch step touches every pair, the
 * output layer being dense), and the training seconds recorded in its timing.json where it is built.
 */

/** Pairs one run's training touches: every init, every step, the whole batch against every feature. */
export function runPairs(r: RunPlan): number {
  const t = r.spec.training;
  return batchSize(r.T, t) * r.spec.n * t.steps * t.initsPerRun;
}

/** Wall seconds of a built run's training (timing.json), or null when it has none here. */
export function runSeconds(r: RunPlan): number | null {
  if (!existsSync(r.files.timing)) return null;
  return readContract(r.files.timing, Timing).wallTimeSeconds;
}

/** A row of the cost table: a figure's runs (or all the profile's), their pairs and the training seconds of those built. */
interface CostRow { name: string; runs: number; pairs: number; seconds: number | null; built: number }

export function costOf(name: string, runs: RunPlan[]): CostRow {
  const secs = runs.map(runSeconds);
  const built = secs.filter((s) => s !== null).length;
  return { name, runs: runs.length, pairs: runs.reduce((a, r) => a + runPairs(r), 0), seconds: built ? secs.reduce<number>((a, s) => a + (s ?? 0), 0) : null, built };
}

const sci = (x: number) => x.toExponential(2).replace('e+', 'e');

export function formatCost(rows: CostRow[], total: CostRow): string {
  const line = (r: CostRow, bold = false) => {
    const name = bold ? `**${r.name}**` : r.name;
    const secs = r.seconds === null ? 'not built' : `${Math.round(r.seconds).toLocaleString('en-US')}${r.built < r.runs ? ` (${r.built} of ${r.runs} runs built)` : ''}`;
    return `| ${name} | ${r.runs} | ${sci(r.pairs)} | ${secs} |`;
  };
  return ['| figure | runs | pairs | training seconds |', '|---|---:|---:|---:|', ...rows.map((r) => line(r)), line(total, true)].join('\n');
}
