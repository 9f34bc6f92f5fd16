import { z } from 'zod';
import { DatasetSize } from './schema.ts';
import { ConfigError, readConfigJson } from './load.ts';
import { figureSources } from './layout.ts';
import { MAIN_SWEEP, specHash, type ProfilePlan, type RunPlan } from './plan.ts';

/**
 * The tables a figure can read, one row per: run (`runs`: its summary), feature vector (`features`),
 * kept training example (`examples`), either of the two with its `kind` ('feature' or 'example': `vectors`),
 * or regime of T (`regimes`: small data, middle, large data, as measured: pipeline/geometry/regimes.ts).
 */
export const Table = z.enum(['runs', 'features', 'examples', 'vectors', 'regimes']);
export type Table = z.infer<typeof Table>;

/** figures/<name>/figure.json: which runs and tables a figure reads. The drawing itself is spec.vl.json. */
export const FigureFile = z.strictObject({
  title: z.string(),
  description: z.string(),
  /** The grid of runs it draws: the profile's own (main) or one of its `sweeps`. */
  sweep: z.string().default(MAIN_SWEEP),
  m: z.number().int().min(1),
  sizes: z.union([z.literal('all'), z.array(DatasetSize).min(1)]),
  tables: z.array(Table).min(1),
  /** Sizes to show in a strip of vector panels: each row gets `inStrip`, true for the runs at the T nearest to one of them (on a log scale). */
  strip: z.array(DatasetSize).min(1).optional(),
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
  /** What its render task depends on besides files: the figure's selection and the specs of its runs. */
  spec: { figure: FigureFile; runs: { id: string; spec: string }[] };
}

/** One figure of a profile's plan, read from figures/<name>/figure.json under `root`. */
export function planFigure(plan: ProfilePlan, name: string, root = '.'): FigurePlan {
  if (!plan.figures.includes(name)) throw new ConfigError(`profile ${plan.profile} does not list figure "${name}"`);
  const figure = loadFigure(name, root);
  const grid = plan.sweeps[figure.sweep];
  if (!grid) throw new ConfigError(`figure ${name} draws sweep "${figure.sweep}", which profile ${plan.profile} does not define (its sweeps: ${Object.keys(plan.sweeps).join(', ')})`);
  const runs = grid.filter((r) => r.m === figure.m && (figure.sizes === 'all' || figure.sizes.includes(r.T)));
  return { name, figure, runs, spec: { figure, runs: runs.map((r) => ({ id: r.id, spec: specHash(r.spec) })) } };
}
