import { figureRuns, planFigure } from '../config/figures.ts';
import { costOf, formatCost, ratesFile, readRates } from '../cost.ts';
import { profileArgs, runCommand, type Output } from './run.ts';

/**
 *   npm run cost [-- <profile>] [--config experiment.json]
 * What a profile's figures cost: for each figure its runs, the (point, feature) pairs their training
 * touches, the training seconds recorded in the runs' timing.json where they are built, and the seconds
 * predicted from the rates `npm run bench -- --profile <profile>` measured here (data/<profile>/rates.json),
 * when it has (cost.ts). A run that two figures share counts in both rows and once in the total.
 */
export function main(argv: string[], io: Output): number {
  const { name, profile, plan } = profileArgs(argv);
  const figures = profile.figures.map((f) => planFigure(plan, f));
  const used = figureRuns(plan, figures);
  const rates = readRates(ratesFile(name));
  io.stdout(`profile ${name}: ${used.length} runs for ${figures.length} figures (seconds: this machine's timing.json of each built run` +
    `${rates ? `; predicted: one run at a time at the rates in ${ratesFile(name)}` : `; \`npm run bench -- --profile ${name}\` measures the rates that predict them`})\n`);
  io.stdout(formatCost(figures.map((f) => costOf(f.name, f.runs, rates)), costOf('all figures (each run once)', used, rates)) + '\n');
  return 0;
}

runCommand(import.meta.url, main);
