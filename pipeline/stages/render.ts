import { rmSync } from 'node:fs';
import { ConfigError, readConfigJson } from '../config/load.ts';
import { specHash } from '../config/plan.ts';
import { planFigure } from '../config/figures.ts';
import { figureOutputs, figureSources, themeFile } from '../config/layout.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { writeJsonAtomic } from '../format/json.ts';
import { gatherTables } from '../render/tables.ts';
import { loadTheme, renderVegaLite } from '../render/render.ts';
import { checkSpec, loadPlan, type StageArgs } from './context.ts';

/** Renders one figure of a profile to dist/<profile>/<figure>.svg and .png, with a provenance file. */
export async function runRenderStage(args: StageArgs, log: (s: string) => void): Promise<void> {
  const plan = loadPlan(args);
  const fp = planFigure(plan, args.id);
  checkSpec(args, `figure ${plan.profile}/${fp.name}`, fp.spec);
  const out = figureOutputs(plan.profile, fp.name);
  for (const f of [out.svg, out.png, out.provenance]) rmSync(f, { force: true });
  if (fp.runs.length === 0) throw new ConfigError(`figure ${fp.name}: profile ${plan.profile} has no run with m = ${fp.figure.m} and the figure's sizes`);
  const sources = figureSources(fp.name);
  const spec = readConfigJson(sources.spec) as Record<string, unknown>;
  const { svg, png } = await renderVegaLite(spec, gatherTables(fp), loadTheme(), sources.spec);
  writeFileAtomic(out.svg, svg);
  writeFileAtomic(out.png, png);
  writeJsonAtomic(out.provenance, {
    figure: fp.name, title: fp.figure.title, profile: plan.profile, config: args.config,
    spec: sources.spec, figureFile: sources.figure, theme: themeFile(),
    runs: fp.runs.map((r) => ({ run: r.id, dir: r.files.dir, spec: specHash(r.spec) })),
  });
  log(`[${plan.profile}/${fp.name}] ${fp.runs.length} runs -> ${out.svg}, ${out.png}`);
}
