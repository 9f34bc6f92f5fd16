import { rmSync } from 'node:fs';
import { ConfigError, readConfigJson } from '../config/load.ts';
import { specHash } from '../config/plan.ts';
import { planFigure } from '../config/figures.ts';
import { figureOutputs, figureSources, themeFile } from '../config/layout.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { readJson, writeJsonAtomic } from '../format/json.ts';
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
  const engines = [...new Set(fp.runs.map((r) => (readJson(r.files.geometry.summary) as { engine: string }).engine))].sort();
  // What the figure came from: the hash of its config entries (the figure file and its runs' specs), of
  // the render code, the engines that trained its runs, and each run's spec. (No commit and no upstream
  // code hash: a figure is rebuilt only when its inputs' bytes change; manifest.json records the commit.)
  const provenance = {
    figure: fp.name, title: fp.figure.title, profile: plan.profile, config: args.config,
    spec: sources.spec, figureFile: sources.figure, theme: themeFile(),
    specHash: specHash(fp.spec), renderCode: args.codeHash ?? null, engines,
    runs: fp.runs.map((r) => ({ run: r.id, dir: r.files.dir, spec: specHash(r.spec) })),
  };
  writeFileAtomic(out.svg, withMetadata(svg, provenance));
  writeFileAtomic(out.png, png);
  writeJsonAtomic(out.provenance, provenance);
  log(`[${plan.profile}/${fp.name}] ${fp.runs.length} runs -> ${out.svg}, ${out.png}`);
}

/** The SVG with `data` as JSON in a <metadata> element, first inside its root element. */
export function withMetadata(svg: string, data: unknown): string {
  const root = /<svg\b[^>]*>/.exec(svg);
  if (!root) throw new Error('the renderer gave no <svg> element');
  const json = JSON.stringify(data).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const at = root.index + root[0].length;
  return `${svg.slice(0, at)}<metadata id="provenance">${json}</metadata>${svg.slice(at)}`;
}
