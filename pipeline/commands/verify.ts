import { MAIN_SWEEP, type RunPlan } from '../config/plan.ts';
import { UserError } from '../errors.ts';
import { FormatError } from '../files/error.ts';
import { checkClaims, formatClaims, movieClaim, readMovie, readRunTables, readSweepRun, seedSweeps, someDrawsDisagree, sweepClaims, type Claim, type Movie } from '../verify.ts';
import { planFigure } from '../config/figures.ts';
import { profileArgs, runCommand, type Output } from './run.ts';

/**
 *   npm run verify [-- <profile>] [--config experiment.json]
 * Checks the paper's claims, with numbers, on a built profile's tables (verify.ts): prints a table
 * (claim, measured, expected, pass) and exits 1 when a claim fails, 2 when the tables are missing.
 */
export function main(argv: string[], io: Output): number {
  const { name, profile, plan } = profileArgs(argv);
  const claims: Claim[] = [];
  try {
    // The main grid and the sweeps that only add dataset seeds to it.
    const seeds = seedSweeps(profile);
    const grid = new Map([MAIN_SWEEP, ...seeds].flatMap((s) => plan.sweeps[s]).map((r) => [r.id, r]));
    for (const m of profile.model.hiddenDims) {
      const runs = [...grid.values()].filter((r) => r.m === m && r.spec.sparsity === profile.data.sparsity);
      const seedsOf = [...new Set(runs.map((r) => r.datasetSeed))];
      const added = seeds.filter((s) => plan.sweeps[s].some((r) => r.m === m));
      io.stdout(`profile ${name}, m = ${m}: ${runs.length} runs, dataset seeds ${seedsOf.join(', ')}${added.length ? ` (the main grid and ${added.join(', ')})` : ''}\n`);
      claims.push(...checkClaims(readRunTables(runs)));
    }
    claims.push(...sweepClaims(plan, profile, readSweepRun));
    if (profile.figures.includes('training-dynamics')) {
      // The movie is one of the searched runs: each run's moments.json (41 moments of every vector) read once.
      const movies = new Map<string, Movie>();
      const movie = (r: RunPlan) => movies.get(r.id) ?? movies.set(r.id, readMovie(r)).get(r.id)!;
      const searched = profile.figures.includes('movie-search') ? planFigure(plan, 'movie-search').runs.map(movie) : [];
      claims.push(movieClaim(planFigure(plan, 'training-dynamics').runs.map(movie), searched));
    }
  } catch (e) {
    // A table missing or unreadable: the profile is not built (or not all of it).
    if (e instanceof FormatError) throw new UserError(`${e.message}; build the profile first (npm run build -- <profile>)`);
    throw e;
  }
  io.stdout(formatClaims(claims) + '\n');
  const failed = claims.filter((c) => c.pass === false).length;
  const unchecked = claims.filter((c) => c.pass === null).length;
  io.stdout(`${claims.length - failed - unchecked} passed, ${failed} failed, ${unchecked} not checked\n`);
  const split = someDrawsDisagree(claims);
  if (split.length) io.stdout(`holds on the medians, not for every draw: ${split.map((c) => `"${c.claim}" (${c.draws})`).join('; ')}\n`);
  return failed ? 1 : 0;
}

runCommand(import.meta.url, main);
