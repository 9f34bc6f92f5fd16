import { figureRuns, planFigure } from '../config/figures.ts';
import { costOf, formatCost } from '../cost.ts';
import { profileArgs, runCommand, type Output } from './run.ts';

/**
 *   npm run cost [-- <profile>] [--config experiment.json]
 * What a profile's figures cost: for each figure its runs, the (point, feature) pairs their training
 * touches, and the training seconds recorded in the runs' timing.json where they are built (cost.ts). A run
 * that two figures share counts in both rows and once in the total.
 */
export function main(argv: string[], io: Output): number {
  const { name, profile, plan } = profileArgs(argv);
  const figures = profile.figures.map((f) => planFigure(plan, f));
  const used = figureRuns(plan, figures);
  io.stdout(`profile ${name}: ${used.length} runs for ${figures.length} figures (seconds: this machine's timing.json of each built run)\n`);
  io.stdout(formatCost(figures.map((f) => costOf(f.name, f.runs)), costOf('all figures (each run once)', used)) + '\n');
  return 0;
}

runCommand(import.meta.url, main);
