import { figureRuns, planFigure } from '../config/figures.ts';
import { costOf, estimateCores, formatCost, ratesFile, readRates } from '../cost.ts';
import { UserError } from '../errors.ts';
import { profileArgs, runCommand, type Output } from './run.ts';

/**
 *   npm run cost [-- <profile>] [--config experiment.json] [--cores N]
 * What a profile's figures cost: for each figure its runs, the (point, feature) pairs their training
 * touches, the training seconds recorded in the runs' timing.json where they are built, and the seconds
 * predicted from the rates `npm run bench -- --profile <profile>` measured here (data/<profile>/rates.json),
 * when it has (cost.ts). A run that two figures share counts in both rows and once in the total.
 * --cores N adds an estimate (labelled as one) of the training wall time on N cores, every run on one thread
 * side by side, from the single-thread rates `npm run bench -- --profile <profile> --workers 1` measured.
 */
export function main(argv: string[], io: Output): number {
  const { name, profile, plan, values } = profileArgs(argv, ['cores']);
  const cores = values.cores === undefined ? null : Number(values.cores);
  if (cores !== null && !(Number.isInteger(cores) && cores >= 1)) throw new UserError(`--cores: expected a positive integer, found "${values.cores}"`);
  const figures = profile.figures.map((f) => planFigure(plan, f));
  const used = figureRuns(plan, figures);
  const own = ratesFile(name, profile.execution.workers);
  const rates = readRates(own, profile.execution.workers);
  io.stdout(`profile ${name}: ${used.length} runs for ${figures.length} figures (seconds: this machine's timing.json of each built run` +
    `${rates ? `; predicted: one run at a time at the rates in ${own}` : `; \`npm run bench -- --profile ${name}\` measures the rates that predict them`})\n`);
  io.stdout(formatCost(figures.map((f) => costOf(f.name, f.runs, rates)), costOf('all figures (each run once)', used, rates)) + '\n');
  if (cores !== null) {
    const file = ratesFile(name, profile.execution.workers, 1);
    const single = readRates(file, 1);
    if (!single) throw new UserError(`--cores: no single-thread rates for ${name} in ${file}; measure them with \`npm run bench -- --profile ${name} --workers 1\``);
    const e = estimateCores(used, single.shapes, cores);
    const min = (s: number) => `${(s / 60).toFixed(1)} min`;
    io.stdout(`\nestimate (not measured): training of ${name} on ${cores} core${cores === 1 ? '' : 's'}, each run on one thread side by side ` +
      `(execution.workers 1), ${min(e.seconds)}: its ${min(e.serial)} of single-thread work packed longest first ` +
      `(the longest run alone ${min(e.longest)}), from ${file} (${single.cpu})\n`);
  }
  return 0;
}

runCommand(import.meta.url, main);
