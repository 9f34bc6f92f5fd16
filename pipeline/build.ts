import { loadExperiment, selectProfile, ConfigError } from './config/load.ts';
import { planFigure } from './config/figures.ts';
import { planProfile } from './config/plan.ts';
import { FormatError } from './format/error.ts';
import { runNx } from './nx/run.ts';

/**
 *   npm run build [-- <profile>] [-- <extra nx flags>]
 * Validates experiment.json and the profile's figures before anything runs, then asks Nx for
 * the profile's `build` target: every figure as SVG and PNG in dist/<profile>/.
 */
function main(): number {
  const args = process.argv.slice(2);
  const profileArg = args[0] && !args[0].startsWith('-') ? args.shift() : undefined;
  try {
    const exp = loadExperiment();
    const { name, profile } = selectProfile(exp, profileArg);
    const plan = planProfile(name, profile);
    for (const f of profile.figures) planFigure(plan, f);
    process.stderr.write(`building profile "${name}": ${profile.datasetSizes.length} dataset sizes, ${profile.figures.length} figures -> dist/${name}/\n`);
    return runNx(['run', `${name}:build`, '--outputStyle=stream', ...args]);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof FormatError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

process.exit(main());
