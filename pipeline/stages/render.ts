import { mkdirSync, rmSync } from 'node:fs';
import { posix } from 'node:path';
import { ConfigError } from '../config/load.ts';
import { specHash } from '../config/plan.ts';
import { planFigure, type FigurePlan } from '../config/figures.ts';
import { figureOutputs, figureSources, frameFile, profileDistDir, themeFile } from '../config/layout.ts';
import { writeFileAtomic } from '../files/atomic.ts';
import { writeJsonAtomic } from '../files/json.ts';
import { readContract } from '../contracts/read.ts';
import { Summary } from '../contracts/summary.ts';
import type { Provenance, ProvenanceFrame } from '../contracts/provenance.ts';
import { gatherTables, type Row } from '../render/tables.ts';
import { loadTheme, renderVegaLite } from '../render/render.ts';
import { figureSpec, frameSpec } from '../render/spec.ts';
import { checkSpec, loadPlan, type StageArgs } from './context.ts';

/** Renders one figure of a profile to dist/<profile>/<figure>.svg and .png, with a provenance file. */
export async function runRenderStage(args: StageArgs, log: (s: string) => void): Promise<void> {
  const plan = loadPlan(args);
  const fp = planFigure(plan, args.id);
  checkSpec(args, `figure ${plan.profile}/${fp.name}`, fp.configSlice);
  const out = figureOutputs(plan.profile, fp.name);
  for (const f of [out.svg, out.png, out.provenance, out.frames]) rmSync(f, { recursive: true, force: true });
  if (fp.runs.length === 0) throw new ConfigError(`figure ${fp.name}: profile ${plan.profile} has no run with m = ${fp.figure.m} and the figure's sizes`);
  const sources = figureSources(fp.name);
  // The spec with its shared parts (figures/_shared/) put in and figure.json's title: pipeline/render/spec.ts.
  const { spec } = figureSpec(fp.name, fp.figure);
  const tables = gatherTables(fp);
  const theme = loadTheme();
  const { svg, png } = await renderVegaLite(spec, tables, theme, sources.spec);
  const frames = fp.figure.frames ? await renderFrames(fp.name, fp.figure.frames, tables, theme, plan.profile, log) : undefined;
  const engines = [...new Set(fp.runs.map((r) => readContract(r.files.geometry.summary, Summary).engine))].sort();
  // What the figure came from: the hash of its config entries (the figure file and its runs' specs), of
  // the render code, the engines that trained its runs, and each run's spec. (No commit and no upstream
  // code hash: a figure is rebuilt only when its inputs' bytes change; manifest.json records the commit.)
  const provenance: Provenance = {
    figure: fp.name, title: fp.figure.title, profile: plan.profile, config: args.config,
    spec: sources.spec, figureFile: sources.figure, theme: themeFile(),
    specHash: specHash(fp.configSlice), renderCode: args.codeHash ?? null, engines,
    runs: fp.runs.map((r) => ({ run: r.id, dir: r.files.dir, spec: specHash(r.spec) })),
    ...(frames ? { frames } : {}),
  };
  writeFileAtomic(out.svg, withMetadata(svg, provenance));
  writeFileAtomic(out.png, png);
  writeJsonAtomic(out.provenance, provenance);
  log(`[${plan.profile}/${fp.name}] ${fp.runs.length} runs -> ${out.svg}, ${out.png}`);
}

/**
 * The slider's frames: the frame spec drawn once per value of `by` (in increasing order), each with the
 * rows of that value, as dist/<profile>/<name>.frames/<i>.png. Returns each frame's file and caption value.
 */
async function renderFrames(
  name: string, frames: NonNullable<FigurePlan['figure']['frames']>, tables: Record<string, Row[]>, theme: Record<string, unknown>, profile: string, log: (s: string) => void,
): Promise<ProvenanceFrame[]> {
  const { file: specFile, spec } = frameSpec(name, frames);
  const values = [...new Set(Object.values(tables).flatMap((rows) => rows.filter((r) => frames.by in r).map((r) => r[frames.by])))]
    .sort((a, b) => (a as number) - (b as number));
  if (values.length === 0) throw new ConfigError(`figure ${name}: frames.by "${frames.by}" is a field of none of its tables`);
  const out: ProvenanceFrame[] = [];
  const dir = profileDistDir(profile);
  mkdirSync(posix.join(dir, `${name}.frames`), { recursive: true });
  for (const [i, value] of values.entries()) {
    const only = Object.fromEntries(Object.entries(tables).map(([t, rows]) => [t, rows.filter((r) => !(frames.by in r) || r[frames.by] === value)]));
    const { png } = await renderVegaLite(spec, only, theme, specFile);
    const file = frameFile(name, i);
    writeFileAtomic(posix.join(dir, file), png);
    const labelled = Object.values(only).flat().find((r) => r[frames.by] === value && frames.label in r);
    out.push({ file, value, label: labelled?.[frames.label] ?? value });
  }
  log(`[${profile}/${name}] ${values.length} slider frames -> ${posix.join(dir, `${name}.frames`)}/`);
  return out;
}

/** The SVG with `data` as JSON in a <metadata> element, first inside its root element. */
function withMetadata(svg: string, data: unknown): string {
  const root = /<svg\b[^>]*>/.exec(svg);
  if (!root) throw new Error('the renderer gave no <svg> element');
  const json = JSON.stringify(data).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const at = root.index + root[0].length;
  return `${svg.slice(0, at)}<metadata id="provenance">${json}</metadata>${svg.slice(at)}`;
}
