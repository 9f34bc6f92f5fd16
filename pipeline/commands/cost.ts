import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILE, loadExperiment, selectProfile } from '../config/load.ts';
import { figureRuns, planFigure } from '../config/figures.ts';
import { planProfile } from '../config/plan.ts';
import { costOf, formatCost } from '../cost.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   npm run cost [-- <profile>] [--config experiment.json]
 * What a profile's figures cost: for each figure its runs, the (point, feature) pairs their training
 * touches, and the training seconds recorded in the runs' timing.json where they are built (cost.ts). A run
 * that two figures share counts in both rows and once in the total.
 */
export function main(argv: string[], io: Output): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', default: DEFAULT_CONFIG_FILE } } });
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const { positionals, values } = parsed;
  const { name, profile } = selectProfile(loadExperiment(values.config), positionals[0]);
  const plan = planProfile(name, profile);
  const figures = profile.figures.map((f) => planFigure(plan, f));
  const used = figureRuns(plan, figures);
  io.stdout(`profile ${name}: ${used.length} runs for ${figures.length} figures (seconds: this machine's timing.json of each built run)\n`);
  io.stdout(formatCost(figures.map((f) => costOf(f.name, f.runs)), costOf('all figures (each run once)', used)) + '\n');
  return 0;
}

runCommand(import.meta.url, main);
