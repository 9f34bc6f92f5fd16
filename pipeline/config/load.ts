import { resolve } from 'node:path';
import type { z } from 'zod';
import { readJson } from '../format/json.ts';
import { FormatError } from '../format/error.ts';
import { ExperimentFile, Profile, TrainingConfig } from './schema.ts';
import { MAIN_SWEEP, overrideMatches, runId, runTraining } from './plan.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_FILE = 'experiment.json';

/**
 * How a command ends on bad input: a ConfigError or FormatError is printed as `error: <message>` (then
 * `more`, e.g. a usage line) and gives exit status 2; anything else is a bug and is thrown on.
 */
export function exitOnUserError(e: unknown, more = ''): number {
  if (e instanceof ConfigError || e instanceof FormatError) {
    process.stderr.write(`error: ${e.message}\n${more}`);
    return 2;
  }
  throw e;
}

/** A configuration file (experiment.json, a figure's files, the theme) as JSON; unreadable is a ConfigError. */
export function readConfigJson(file: string, shownAs = file): unknown {
  try {
    return readJson(file);
  } catch (e) {
    if (e instanceof FormatError) throw new ConfigError(e.message.replace(file, shownAs));
    throw e;
  }
}
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  const s = JSON.stringify(value);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function at(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k as string];
  }
  return v;
}

function formatIssues(file: string, prefix: string, issues: z.core.$ZodIssue[], root: unknown, where?: (path: PropertyKey[]) => string): string {
  const place = (path: PropertyKey[]) => (where ? where(path) : [prefix, ...path].filter((s) => s !== '').join('.') || '(top level)');
  const lines = issues.flatMap((i) => {
    const path = i.path as PropertyKey[];
    if (i.code === 'unrecognized_keys')
      return (i as { keys: string[] }).keys.map((k) => `${file}: ${place([...path, k])}: unknown field "${k}"`);
    return [`${file}: ${place(path)}: ${i.message.replace(/^Invalid input: /, '')}, found ${describe(at(root, path))}`];
  });
  return lines.join('\n');
}

/** Objects merge key by key; anything else (numbers, lists) in the child replaces the parent's. */
function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

export interface Experiment {
  file: string;
  defaultProfile: string;
  profileNames: string[];
  profiles: Record<string, Profile>;
}

/** Reads and validates the whole experiment file. Throws a ConfigError naming the file and field. */
export function loadExperiment(file = DEFAULT_CONFIG_FILE, cwd = process.cwd()): Experiment {
  return parseExperiment(readConfigJson(resolve(cwd, file), file), file);
}

export function parseExperiment(raw: unknown, file: string): Experiment {
  const top = ExperimentFile.safeParse(raw);
  if (!top.success) throw new ConfigError(formatIssues(file, '', top.error.issues, raw));
  const rawProfiles = top.data.profiles;
  const profiles: Record<string, Profile> = {};
  const errors: string[] = [];
  for (const name of Object.keys(rawProfiles)) {
    const errorsBefore = errors.length;
    const chain: string[] = [];
    let cur: string | undefined = name;
    while (cur !== undefined) {
      if (chain.includes(cur)) {
        errors.push(`${file}: profiles.${name}.extends: expected a chain of profiles without a cycle, found ${[...chain, cur].join(' -> ')}`);
        break;
      }
      if (!(cur in rawProfiles)) {
        errors.push(`${file}: profiles.${chain[chain.length - 1]}.extends: expected one of ${Object.keys(rawProfiles).join(', ')}, found "${cur}"`);
        break;
      }
      chain.push(cur);
      const ext: unknown = rawProfiles[cur].extends;
      if (ext !== undefined && typeof ext !== 'string') {
        errors.push(`${file}: profiles.${cur}.extends: expected the name of a profile, found ${describe(ext)}`);
        break;
      }
      cur = ext as string | undefined;
    }
    if (errors.length > errorsBefore) continue;
    let merged: unknown = {};
    for (const p of [...chain].reverse()) {
      const { extends: _ignored, ...rest } = rawProfiles[p];
      merged = deepMerge(merged, rest);
    }
    // Report a bad field where it is written: the nearest profile in the chain that sets it
    // (or, for a rule between fields, that sets any of them).
    const where = (path: PropertyKey[], related: PropertyKey[][] = [path]) => {
      const owner = chain.find((p) => related.some((r) => at(rawProfiles[p], r) !== undefined)) ?? name;
      return `profiles.${owner}.${path.join('.')}`;
    };
    const parsed = Profile.safeParse(merged);
    if (!parsed.success) {
      errors.push(formatIssues(file, `profiles.${name}`, parsed.error.issues, merged, where));
      continue;
    }
    const problems = checkProfile(parsed.data);
    for (const [path, msg, related] of problems) errors.push(`${file}: ${where(path, related)}: ${msg}`);
    profiles[name] = parsed.data;
  }
  if (!(top.data.defaultProfile in rawProfiles))
    errors.push(`${file}: defaultProfile: expected one of ${Object.keys(rawProfiles).join(', ')}, found "${top.data.defaultProfile}"`);
  if (errors.length) throw new ConfigError([...new Set(errors)].join('\n'));
  return { file, defaultProfile: top.data.defaultProfile, profileNames: Object.keys(profiles), profiles };
}

type Problem = [path: PropertyKey[], message: string, related?: PropertyKey[][]];

/** Checks that need more than one field. */
function checkProfile(p: Profile): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  if (p.training.warmupSteps >= p.training.steps)
    out.push([['training', 'warmupSteps'], `expected warmupSteps < steps (${p.training.steps}), found ${p.training.warmupSteps}`,
      [['training', 'warmupSteps'], ['training', 'steps']]]);
  p.datasetSizes.forEach((T, i) => {
    if (seen.has(String(T))) out.push([['datasetSizes', i], `expected each size once, found ${JSON.stringify(T)} again`]);
    seen.add(String(T));
  });
  const dupSeeds = p.data.datasetSeeds.filter((s, i) => p.data.datasetSeeds.indexOf(s) !== i);
  if (dupSeeds.length) out.push([['data', 'datasetSeeds'], `expected distinct seeds, found ${dupSeeds[0]} twice`]);
  // An override names a T, m or seed that some grid (the main one or a sweep) has.
  const grids = [{}, ...Object.values(p.sweeps)] as Partial<Profile['sweeps'][string]>[];
  const sizes = new Set(grids.flatMap((g) => (g.datasetSizes ?? p.datasetSizes).map(String)));
  const dims = new Set(grids.flatMap((g) => g.hiddenDims ?? p.model.hiddenDims));
  const seeds = new Set(grids.flatMap((g) => g.datasetSeeds ?? p.data.datasetSeeds));
  p.runOverrides.forEach((o, i) => {
    if (o.T !== undefined && !sizes.has(String(o.T))) out.push([['runOverrides', i, 'T'], `expected a size of datasetSizes or of a sweep, found ${JSON.stringify(o.T)}`]);
    if (o.m !== undefined && !dims.has(o.m)) out.push([['runOverrides', i, 'm'], `expected an m of model.hiddenDims or of a sweep, found ${o.m}`]);
    if (o.datasetSeed !== undefined && !seeds.has(o.datasetSeed))
      out.push([['runOverrides', i, 'datasetSeed'], `expected a seed of data.datasetSeeds or of a sweep, found ${o.datasetSeed}`]);
  });
  // Each sweep's settings, for every value it varies.
  for (const [name, g] of Object.entries(p.sweeps)) {
    for (const r of g.repeats ?? []) {
      const bad = (g.datasetSizes ?? p.datasetSizes).find((T) => T === 'infinity' || T < r);
      if (bad !== undefined) out.push([['sweeps', name, 'repeats'], `expected each T of the sweep to be finite and at least the repeats (${r}), found ${JSON.stringify(bad)}`]);
    }
    if (name === MAIN_SWEEP) out.push([['sweeps', name], `expected another name: "${MAIN_SWEEP}" is the profile's own grid (datasetSizes x hiddenDims x datasetSeeds)`]);
    const variants: [PropertyKey[], Record<string, number>][] = g.vary
      ? g.vary.values.map((v, i) => [['sweeps', name, 'vary', 'values', i], { [g.vary!.field]: v }])
      : [[['sweeps', name, 'training'], {}]];
    for (const [path, variant] of variants) {
      const t = { ...p.training, ...g.training, ...variant };
      if (g.warmupFraction !== undefined) t.warmupSteps = Math.round(g.warmupFraction * t.steps);
      const r = TrainingConfig.safeParse(t);
      if (!r.success) for (const issue of r.error.issues) out.push([path, `${issue.path.join('.')}: ${issue.message}, found ${describe(at(t, issue.path as PropertyKey[]))}`]);
      else if (t.warmupSteps >= t.steps) out.push([path, `expected warmupSteps (${t.warmupSteps}) < steps (${t.steps}) in this sweep`]);
    }
  }
  // A run's settings after its overrides: blame the last override that set steps or warmupSteps.
  for (const T of p.datasetSizes)
    for (const datasetSeed of p.data.datasetSeeds)
      for (const m of p.model.hiddenDims) {
        const run = { T, m, datasetSeed };
        const t = runTraining(p, run);
        if (t.warmupSteps < t.steps) continue;
        const i = p.runOverrides.findLastIndex((o) => overrideMatches(o, run) && (o.training?.steps !== undefined || o.training?.warmupSteps !== undefined));
        if (i < 0) continue; // the profile's own fields, reported above
        const field = p.runOverrides[i].training?.steps !== undefined ? 'steps' : 'warmupSteps';
        out.push([['runOverrides', i, 'training', field], `expected warmupSteps (${t.warmupSteps}) < steps (${t.steps}) for run ${runId(run)}`]);
      }
  return out;
}

export function selectProfile(exp: Experiment, name: string | undefined): { name: string; profile: Profile } {
  const n = name ?? exp.defaultProfile;
  const profile = exp.profiles[n];
  if (!profile) throw new ConfigError(`${exp.file}: no profile named "${n}"; the profiles are ${exp.profileNames.join(', ')}`);
  return { name: n, profile };
}
