import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE, exitOnUserError, loadExperiment, selectProfile } from './config/load.ts';
import { figureRuns, planFigure } from './config/figures.ts';
import { planProfile, type RunPlan } from './config/plan.ts';
import { batchSize } from './config/size.ts';
import { readContract } from './contracts/read.ts';
import { Timing } from './contracts/timing.ts';
import { isMain } from './entry.ts';

/**
 *   npm run cost [-- <profile>]
 * What a profile's figures cost: for each figure its runs, the (point, feature) pairs their training
 * touches (batch x n x steps x inits: one full-batch step touches every pair, the output layer being
 * dense), and the training seconds recorded in the runs' timing.json where they are built. A run that
 * two figures share counts in both rows and once in the total.
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

export interface CostRow { name: string; runs: number; pairs: number; seconds: number | null; built: number }

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

function main(argv: string[]): number {
  try {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', default: DEFAULT_CONFIG_FILE } } });
    const { name, profile } = selectProfile(loadExperiment(values.config), positionals[0]);
    const plan = planProfile(name, profile);
    const figures = profile.figures.map((f) => planFigure(plan, f));
    const used = figureRuns(plan, figures);
    process.stdout.write(`profile ${name}: ${used.length} runs for ${figures.length} figures (seconds: this machine's timing.json of each built run)\n`);
    process.stdout.write(formatCost(figures.map((f) => costOf(f.name, f.runs)), costOf('all figures (each run once)', used)) + '\n');
    return 0;
  } catch (e) {
    return exitOnUserError(e);
  }
}

if (isMain(import.meta.url)) process.exit(main(process.argv.slice(2)));
