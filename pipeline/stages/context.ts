import { loadExperiment, selectProfile, ConfigError } from '../config/load.ts';
import { planProfile, specHash, type ProfilePlan } from '../config/plan.ts';

export interface StageArgs {
  profile: string;
  id?: string;
  specHash?: string;
  config: string;
}

export function parseArgs(argv: string[]): StageArgs {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([a-zA-Z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new ConfigError(`unexpected argument "${a}"`);
    out[m[1]] = m[2] ?? argv[++i];
  }
  if (!out.profile) throw new ConfigError('missing --profile');
  return { profile: out.profile, id: out.id, specHash: out['spec-hash'], config: out.config ?? 'experiment.json' };
}

export function loadPlan(args: StageArgs): ProfilePlan {
  const exp = loadExperiment(args.config);
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
