import { parseArgs } from 'node:util';
import { loadExperiment, selectProfile, ConfigError, DEFAULT_CONFIG_FILE, type Known } from '../config/load.ts';
import { planProfile, specHash, type ProfilePlan } from '../config/plan.ts';

/**
 * Set (to "1") by a build that must take every training from the cache: a training task that runs
 * at all then stops, naming its run. Not a task input, so it never changes a cache key.
 */
export const REQUIRE_CACHED_TRAINING = 'SMDD_REQUIRE_CACHED_TRAINING';

/**
 * Names a file each task appends one line to when it ends: its stage, id and wall seconds from its process's
 * start (commands/stage.ts). Set by npm run build, which sums them per stage at its end. Not a task input.
 */
export const STAGE_LOG = 'SMDD_STAGE_LOG';

/** What every stage is told: `--profile P --id ID [--spec-hash H] [--code-hash C] [--config F]`. */
export interface StageArgs {
  profile: string;
  id: string;
  specHash?: string;
  /** The hash of the stage's own code, as the task graph computed it (recorded in a figure's provenance). */
  codeHash?: string;
  config: string;
}

export function parseStageArgs(argv: string[]): StageArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { profile: { type: 'string' }, id: { type: 'string' }, 'spec-hash': { type: 'string' }, 'code-hash': { type: 'string' }, config: { type: 'string', default: DEFAULT_CONFIG_FILE } },
      strict: true,
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  for (const required of ['profile', 'id'] as const) if (!values[required]) throw new ConfigError(`missing --${required}`);
  return { profile: values.profile!, id: values.id!, specHash: values['spec-hash'], codeHash: values['code-hash'], config: values.config };
}

/** The profile's plan; `known` as loadExperiment's (the train stage passes the engines, which only it loads). */
export function loadPlan(args: StageArgs, known: Known = {}): ProfilePlan {
  const exp = loadExperiment(args.config, undefined, known);
  const { name, profile } = selectProfile(exp, args.profile);
  return planProfile(name, profile);
}

/**
 * The task graph passes the hash of the spec it planned; a mismatch means the graph is stale
 * (the config changed since Nx computed it), and running would cache the wrong result.
 */
export function checkSpec(args: StageArgs, what: string, spec: unknown): void {
  if (args.specHash !== undefined && args.specHash !== specHash(spec))
    throw new ConfigError(`${what}: the task was planned for spec ${args.specHash} but ${args.config} now gives ${specHash(spec)}; run the build again`);
}

/** The run a train or geometry task names, checked against the spec the graph planned. */
export function planRun(args: StageArgs, known: Known = {}) {
  const plan = loadPlan(args, known);
  const run = plan.runs.find((r) => r.id === args.id);
  if (!run) throw new ConfigError(`profile ${plan.profile} has no run "${args.id}"`);
  checkSpec(args, `run ${plan.profile}/${run.id}`, run.spec);
  return { plan, run };
}
