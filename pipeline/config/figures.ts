import { z } from 'zod';
import { DatasetSize } from './schema.ts';
import { ConfigError, readConfigJson } from './load.ts';
import { figureSources } from './layout.ts';
import { MAIN_SWEEP, specHash, type ProfilePlan, type RunPlan } from './plan.ts';

/**
 * The tables a figure can read, one row per: run (`runs`: its summary), init of a run (`inits`: every init's
 * losses and geometry, the chosen one marked), feature vector (`features`),
 * kept training example (`examples`), either of the two with its `kind` ('feature' or 'example': `vectors`),
 * regime of T (`regimes`: small data, middle, large data, as measured: pipeline/geometry/regimes.ts);
 * for runs with weight snapshots, one row per snapshot (`moments`: norms, dimensionalities, losses at
 * that step) and per vector at each snapshot (`momentVectors`: as `vectors`, with snapshot and step).
 */
export const Table = z.enum(['runs', 'inits', 'features', 'examples', 'vectors', 'regimes', 'moments', 'momentVectors']);
export type Table = z.infer<typeof Table>;

/**
 * figures/<name>/figure.json: which runs and tables a figure reads. The drawing itself is spec.vl.json, which
 * may put in shared parts (figures/_shared/, pipeline/render/spec.ts).
 */
export const FigureFile = z.strictObject({
  /** Said here only: the render step makes it the spec's title text (the spec's `title` gives the subtitle), and the gallery's heading. */
  title: z.string(),
  description: z.string(),
  /**
   * The grid(s) of runs it draws: the profile's own (main) and/or some of its `sweeps` (a run two of them share
   * counts once). A name ending in "?" is drawn where the profile defines that sweep and skipped elsewhere (the
   * sweeps that add dataset seeds, which a small profile may not have); any other name must exist.
   */
  sweep: z.union([z.string(), z.array(z.string()).min(1)]).default(MAIN_SWEEP),
  /** The hidden size of its runs, or "all" (a figure over m, like the heat map). */
  m: z.union([z.number().int().min(1), z.literal('all')]),
  sizes: z.union([z.literal('all'), z.array(DatasetSize).min(1)]),
  tables: z.array(Table).min(1),
  /** Sizes to show in a strip of vector panels: each row gets `inStrip`, true for the runs at the T nearest to one of them (on a log scale). */
  strip: z.array(DatasetSize).min(1).optional(),
  /**
   * Frames for the gallery's slider: `spec` (a file in the figure's folder) drawn once per value of the
   * field `by` (e.g. snapshot), each time with every table's rows of that value (tables without the field
   * whole); `label` names the field whose value captions a frame (e.g. step).
   */
  frames: z.strictObject({ by: z.string(), label: z.string(), spec: z.string().regex(/^[a-z0-9-]+\.vl\.json$/, { error: 'expected a file name like frame.vl.json' }) }).optional(),
});
export type FigureFile = z.infer<typeof FigureFile>;

export function loadFigure(name: string, root = '.'): FigureFile {
  const file = figureSources(name, root).figure;
  const r = FigureFile.safeParse(readConfigJson(file));
  if (!r.success) throw new ConfigError(r.error.issues.map((i) => `${file}: ${i.path.join('.') || '(top level)'}: ${i.message}`).join('\n'));
  return r.data;
}

export interface FigurePlan {
  name: string;
  figure: FigureFile;
  /** The runs it draws: of its sweep, its m, and those of its sizes that the sweep has (all of them for "all"). */
  runs: RunPlan[];
  /**
   * The slice of the config its render depends on besides files: the figure's selection and the spec
   * hashes of its runs. Its hash is the render task's --spec-hash (a run's or data set's is that of its spec).
   */
  configSlice: { figure: FigureFile; runs: { id: string; spec: string }[] };
}

/** The runs a profile's figures draw (each once, in plan order): what its build trains. */
export function figureRuns(plan: ProfilePlan, figures: FigurePlan[] = plan.figures.map((f) => planFigure(plan, f))): RunPlan[] {
  const used = new Set(figures.flatMap((f) => f.runs.map((r) => r.id)));
  return plan.runs.filter((r) => used.has(r.id));
}

/** One figure of a profile's plan, read from figures/<name>/figure.json under `root`. */
export function planFigure(plan: ProfilePlan, name: string, root = '.'): FigurePlan {
  if (!plan.figures.includes(name)) throw new ConfigError(`profile ${plan.profile} does not list figure "${name}"`);
  const figure = loadFigure(name, root);
  const grid = new Map<string, RunPlan>();
  for (const named of typeof figure.sweep === 'string' ? [figure.sweep] : figure.sweep) {
    const optional = named.endsWith('?');
    const sweep = optional ? named.slice(0, -1) : named;
    const runs = plan.sweeps[sweep];
    if (!runs && optional) continue;
    if (!runs) throw new ConfigError(`figure ${name} draws sweep "${sweep}", which profile ${plan.profile} does not define (its sweeps: ${Object.keys(plan.sweeps).join(', ')})`);
    for (const r of runs) grid.set(r.id, r);
  }
  const runs = [...grid.values()].filter((r) => (figure.m === 'all' || r.m === figure.m) && (figure.sizes === 'all' || figure.sizes.includes(r.T)));
  return { name, figure, runs, configSlice: { figure, runs: runs.map((r) => ({ id: r.id, spec: specHash(r.spec) })) } };
}
