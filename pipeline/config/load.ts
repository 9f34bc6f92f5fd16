import { resolve } from 'node:path';
import type { z } from 'zod';
import { readJson } from '../files/json.ts';
import { FormatError } from '../files/error.ts';
import { ExperimentFile, Profile, TrainingConfig, warmupProblem } from './schema.ts';
import { MAIN_SWEEP, expandGrids, overrideMatches, type GridRun } from './plan.ts';
import { isInfinite } from './size.ts';
import { UserError } from '../errors.ts';
import { describeFound, valueAt } from '../files/field.ts';

/** A configuration (experiment.json, a figure's files, a flag) that is not what it should be; the message names the file and field, or the flag. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_FILE = 'experiment.json';

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



function formatIssues(file: string, prefix: string, issues: z.core.$ZodIssue[], root: unknown, where?: (path: PropertyKey[]) => string): string {
  const place = (path: PropertyKey[]) => (where ? where(path) : [prefix, ...path].filter((s) => s !== '').join('.') || '(top level)');
  const lines = issues.flatMap((i) => {
    const path = i.path as PropertyKey[];
    if (i.code === 'unrecognized_keys')
      return (i as { keys: string[] }).keys.map((k) => `${file}: ${place([...path, k])}: unknown field "${k}"`);
    return [`${file}: ${place(path)}: ${i.message.replace(/^Invalid input: /, '')}, found ${describeFound(valueAt(root, path))}`];
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

interface Experiment {
  file: string;
  defaultProfile: string;
  profileNames: string[];
  profiles: Record<string, Profile>;
}

/**
 * What the caller knows beyond the config. `engines`: the names of the registered training engines
 * (pipeline/engines/registry.ts, ENGINE_NAMES); given, every `training.engine` must be one of them. The
 * config does not load the registry itself: every stage loads the config, and only training loads engines.
 */
export interface Known {
  engines?: readonly string[];
}

/** Reads and validates the whole experiment file. Throws a ConfigError naming the file and field. */
export function loadExperiment(file = DEFAULT_CONFIG_FILE, cwd = process.cwd(), known: Known = {}): Experiment {
  return parseExperiment(readConfigJson(resolve(cwd, file), file), file, known);
}

export function parseExperiment(raw: unknown, file: string, known: Known = {}): Experiment {
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
        errors.push(`${file}: profiles.${cur}.extends: expected the name of a profile, found ${describeFound(ext)}`);
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
      const owner = chain.find((p) => related.some((r) => valueAt(rawProfiles[p], r) !== undefined)) ?? name;
      return `profiles.${owner}.${path.join('.')}`;
    };
    const parsed = Profile.safeParse(merged);
    if (!parsed.success) {
      errors.push(formatIssues(file, `profiles.${name}`, parsed.error.issues, merged, where));
      continue;
    }
    const problems = checkProfile(parsed.data, known);
    for (const [path, msg, related] of problems) errors.push(`${file}: ${where(path, related)}: ${msg}`);
    profiles[name] = parsed.data;
  }
  if (!(top.data.defaultProfile in rawProfiles))
    errors.push(`${file}: defaultProfile: expected one of ${Object.keys(rawProfiles).join(', ')}, found "${top.data.defaultProfile}"`);
  if (errors.length) throw new ConfigError([...new Set(errors)].join('\n'));
  return { file, defaultProfile: top.data.defaultProfile, profileNames: Object.keys(profiles), profiles };
}

type Problem = [path: PropertyKey[], message: string, related?: PropertyKey[][]];

/** Checks that need more than one field, made on the runs of the profile's grids as the planner expands them. */
function checkProfile(p: Profile, known: Known): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  p.datasetSizes.forEach((T, i) => {
    if (seen.has(String(T))) out.push([['datasetSizes', i], `expected each size once, found ${JSON.stringify(T)} again`]);
    seen.add(String(T));
  });
  const dupSeeds = p.data.datasetSeeds.filter((s, i) => p.data.datasetSeeds.indexOf(s) !== i);
  if (dupSeeds.length) out.push([['data', 'datasetSeeds'], `expected distinct seeds, found ${dupSeeds[0]} twice`]);
  for (const name of Object.keys(p.sweeps))
    if (name === MAIN_SWEEP) out.push([['sweeps', name], `expected another name: "${MAIN_SWEEP}" is the profile's own grid (datasetSizes x hiddenDims x datasetSeeds)`]);
  if (known.engines) out.push(...checkEngines(p, known.engines));

  const runs = expandGrids(p);
  // An override names a T, m or seed that some grid (the main one or a sweep) has.
  const sizes = new Set(runs.map((r) => r.T));
  const dims = new Set(runs.map((r) => r.m));
  const seeds = new Set(runs.map((r) => r.datasetSeed));
  p.runOverrides.forEach((o, i) => {
    if (o.T !== undefined && !sizes.has(o.T)) out.push([['runOverrides', i, 'T'], `expected a size of datasetSizes or of a sweep, found ${JSON.stringify(o.T)}`]);
    if (o.m !== undefined && !dims.has(o.m)) out.push([['runOverrides', i, 'm'], `expected an m of model.hiddenDims or of a sweep, found ${o.m}`]);
    if (o.datasetSeed !== undefined && !seeds.has(o.datasetSeed))
      out.push([['runOverrides', i, 'datasetSeed'], `expected a seed of data.datasetSeeds or of a sweep, found ${o.datasetSeed}`]);
  });
  // A repeated point needs a training set of at least that many points.
  const badRepeats = new Set<string>();
  for (const r of runs) {
    if (!p.sweeps[r.sweep]?.repeats || (!isInfinite(r.T) && r.T >= r.repeats) || badRepeats.has(`${r.sweep}/${r.repeats}`)) continue;
    badRepeats.add(`${r.sweep}/${r.repeats}`);
    out.push([['sweeps', r.sweep, 'repeats'], `expected each T of the sweep to be finite and at least the repeats (${r.repeats}), found ${JSON.stringify(r.T)}`]);
  }
  // Each value a sweep varies gives valid training settings.
  const badValues = new Set<string>();
  for (const r of runs) {
    if (r.variant === undefined || badValues.has(`${r.sweep}/${r.variant}`)) continue;
    const parsed = TrainingConfig.safeParse(r.grid);
    if (parsed.success) continue;
    badValues.add(`${r.sweep}/${r.variant}`);
    for (const issue of parsed.error.issues)
      out.push([['sweeps', r.sweep, 'vary', 'values', r.variant], `${issue.path.join('.')}: ${issue.message}, found ${describeFound(valueAt(r.grid, issue.path as PropertyKey[]))}`]);
  }
  // warmupSteps < steps for every run, blamed on the last of the fields that set its steps or warmupSteps
  // (once per field: naming the first run it breaks, unless it is the profile's own training).
  const blamed = new Map<string, Problem>();
  for (const r of runs) {
    if (badValues.has(`${r.sweep}/${r.variant}`)) continue;
    const problem = warmupProblem(r.training);
    if (problem === null) continue;
    const [path, related] = warmupSetter(p, r);
    if (!blamed.has(JSON.stringify(path))) blamed.set(JSON.stringify(path), [path, related ? problem : `${problem} for run ${r.id}`, related]);
  }
  out.push(...blamed.values());
  return out;
}

/**
 * Where a run's steps or warmupSteps were last set: a run override, its sweep (warmupFraction, the varied
 * value, its training), or the profile's training (then with the fields that say which profile of its chain).
 */
function warmupSetter(p: Profile, r: GridRun): [PropertyKey[], PropertyKey[][]?] {
  const setsEither = (t: Partial<TrainingConfig> | undefined) => t?.steps !== undefined || t?.warmupSteps !== undefined;
  const field = (t: Partial<TrainingConfig>) => (t.steps !== undefined ? 'steps' : 'warmupSteps');
  const i = p.runOverrides.findLastIndex((o) => overrideMatches(o, r) && setsEither(o.training));
  if (i >= 0) return [['runOverrides', i, 'training', field(p.runOverrides[i].training!)]];
  const g = p.sweeps[r.sweep];
  if (g?.warmupFraction !== undefined) return [['sweeps', r.sweep, 'warmupFraction']];
  if (g?.vary?.field === 'steps' && r.variant !== undefined) return [['sweeps', r.sweep, 'vary', 'values', r.variant]];
  if (setsEither(g?.training)) return [['sweeps', r.sweep, 'training', field(g!.training!)]];
  return [['training', 'warmupSteps'], [['training', 'warmupSteps'], ['training', 'steps']]];
}

/** Every `training.engine` written in the profile (its own, a sweep's, a run override's) names a known engine. */
function checkEngines(p: Profile, engines: readonly string[]): Problem[] {
  const out: Problem[] = [];
  const check = (engine: string | undefined, path: PropertyKey[]) => {
    if (engine !== undefined && !engines.includes(engine)) out.push([path, `expected one of ${engines.join(', ')}, found ${JSON.stringify(engine)}`]);
  };
  check(p.training.engine, ['training', 'engine']);
  for (const [name, g] of Object.entries(p.sweeps)) check(g.training?.engine, ['sweeps', name, 'training', 'engine']);
  p.runOverrides.forEach((o, i) => check(o.training?.engine, ['runOverrides', i, 'training', 'engine']));
  return out;
}

export function selectProfile(exp: Experiment, name: string | undefined): { name: string; profile: Profile } {
  const n = name ?? exp.defaultProfile;
  const profile = exp.profiles[n];
  if (!profile) throw new ConfigError(`${exp.file}: no profile named "${n}"; the profiles are ${exp.profileNames.join(', ')}`);
  return { name: n, profile };
}
