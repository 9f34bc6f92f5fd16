import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/load.ts';
import { specHash } from '../config/plan.ts';
import { writeFileAtomic, writeJsonAtomic } from '../format/atomic.ts';
import { loadFigure, figureDir } from '../render/figure-file.ts';
import { figureRuns, gatherTables } from '../render/tables.ts';
import { loadTheme, readJson, renderVegaLite } from '../render/render.ts';
import { checkSpec, loadPlan, type StageArgs } from './context.ts';

/** Renders one figure of a profile to dist/<profile>/<figure>.svg and .png, with a provenance file. */
export async function runRenderStage(args: StageArgs, log: (s: string) => void): Promise<void> {
  const plan = loadPlan(args);
  const name = args.id!;
  if (!plan.figures.includes(name)) throw new ConfigError(`profile ${plan.profile} does not list figure "${name}"`);
  const fig = loadFigure(name);
  const runs = figureRuns(plan, fig);
  checkSpec(args, `figure ${plan.profile}/${name}`, figureTaskSpec(fig, runs));
  const base = join(plan.distDir, name);
  for (const ext of ['svg', 'png', 'provenance.json']) rmSync(`${base}.${ext}`, { force: true });
  if (runs.length === 0) throw new ConfigError(`figure ${name}: profile ${plan.profile} has no run with m = ${fig.m} and the figure's sizes`);
  const specFile = join(figureDir(name), 'spec.vl.json');
  const spec = readJson(specFile);
  const tables = gatherTables(plan, fig);
  const { svg, png } = await renderVegaLite(spec, tables, loadTheme(), specFile);
  writeFileAtomic(`${base}.svg`, svg);
  writeFileAtomic(`${base}.png`, png);
  writeJsonAtomic(`${base}.provenance.json`, {
    figure: name, title: fig.title, profile: plan.profile, config: args.config,
    spec: specFile, figureFile: join(figureDir(name), 'figure.json'), theme: 'figures/theme.json',
    runs: runs.map((r) => ({ run: r.id, dir: r.dir, spec: specHash(r.spec) })),
  });
  log(`[${plan.profile}/${name}] ${runs.length} runs -> ${base}.svg, ${base}.png`);
}

/** What a render task depends on besides files: the figure's selection and the specs of its runs. */
export function figureTaskSpec(fig: ReturnType<typeof loadFigure>, runs: { id: string; spec: unknown }[]) {
  return { figure: fig, runs: runs.map((r) => ({ id: r.id, spec: specHash(r.spec) })) };
}
