import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROFILES_ENV } from '../../pipeline/nx/run.ts';
import { buildGraph } from '../../pipeline/nx/graph.ts';
import { parseExperiment } from '../../pipeline/config/load.ts';
import { planProfile, specHash } from '../../pipeline/config/plan.ts';
import { fixtureExperiment } from '../fixtures/experiment.ts';

/** The Nx task graph computed from a test-owned config over the project's own code. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'smdd-graph-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = fixtureExperiment();
config.profiles.big = { extends: 'base', description: 'steps large enough for two threads', data: { features: 2000 } };
config.profiles.ref = { extends: 'base', description: 'reference engine', training: { engine: 'reference' } };
config.profiles.tf = { extends: 'base', description: 'TF.js engine', training: { engine: 'tfjs' } };
config.profiles['big-ref'] = { extends: 'big', description: 'large steps on an engine of one thread', training: { engine: 'reference' } };
const file = join(dir, 'experiment.json');
writeFileSync(file, JSON.stringify(config));
const projects = buildGraph(ROOT, file);
const byName = Object.fromEntries(Object.values(projects).map((p) => [p.name, p]));
const target = (project: string, t: string) => {
  const p = byName[project];
  if (!p?.targets[t]) throw new Error(`no task ${project}:${t}`);
  return p.targets[t] as { inputs: unknown[]; outputs: string[]; dependsOn: unknown[]; options: { command: string }; parallelism?: boolean };
};
const fileInputs = (t: { inputs?: unknown[] }) => (t.inputs ?? []).filter((i): i is string => typeof i === 'string').map((i) => i.replace('{workspaceRoot}/', ''));
const upstreamGlobs = (t: { inputs: unknown[] }) => t.inputs.flatMap((i) => ((i as { dependentTasksOutputFiles?: string }).dependentTasksOutputFiles ?? []));
const packages = (t: { inputs: unknown[] }) => t.inputs.flatMap((i) => ((i as { externalDependencies?: string[] }).externalDependencies ?? []));
const plan = planProfile('base', parseExperiment(config, 'experiment.json').profiles.base);

describe('buildGraph', () => {
  it('has a data task per data set, train and geometry per run, a render per figure, a build per profile, and kernel:wasm', () => {
    const names = Object.keys(byName).filter((n) => n.startsWith('base-') || n === 'base').sort();
    expect(names).toEqual([
      'base',
      'base-data-T1000-s0', 'base-data-T3-s0', 'base-data-T30-s0', 'base-data-T5-s0', 'base-data-test',
      'base-figure-small-datasets',
      'base-run-T1000-m2-s0', 'base-run-T3-m2-s0', 'base-run-T30-m2-s0', 'base-run-T5-m2-s0', 'base-run-Tinf-m2-s0',
    ]);
    expect(Object.keys(byName.kernel.targets)).toEqual(['wasm']);
    expect(Object.keys(byName['base-run-T3-m2-s0'].targets).sort()).toEqual(['geometry', 'train']);
  });

  it("puts each task's spec hash in its command, so editing one run's config reruns that run only", () => {
    for (const run of plan.runs) {
      for (const stage of ['train', 'geometry'])
        expect(target(`base-run-${run.id}`, stage).options.command).toContain(`${stage} --profile base --id ${run.id} --spec-hash ${specHash(run.spec)}`);
    }
    expect(target('base-data-test', 'data').options.command).toContain(`--spec-hash ${specHash(plan.testSet.spec)}`);
  });

  it('keys training on the training code and the engine the run uses, and nothing of geometry or rendering', () => {
    const fast = fileInputs(target('base-run-T3-m2-s0', 'train'));
    expect(fast).toEqual(expect.arrayContaining(['pipeline/commands/stage.ts', 'pipeline/stages/train.ts', 'pipeline/train/train-run.ts', 'pipeline/kernel/fast-engine.ts', 'pipeline/kernel/worker.mjs']));
    expect(fast).not.toContain('pipeline/engines/tfjs.ts');
    expect(fast.filter((f) => /pipeline\/(geometry|render)\//.test(f))).toEqual([]);
    const tf = target('tf-run-T3-m2-s0', 'train');
    expect(fileInputs(tf)).toContain('pipeline/engines/tfjs.ts');
    expect(fileInputs(tf)).not.toContain('pipeline/kernel/fast-engine.ts');
    expect(packages(tf)).toContain('@tensorflow/tfjs');
    expect(tf.inputs).toContainEqual({ runtime: 'node pipeline/engines/tfjs-probe.mjs' });
    expect(fileInputs(target('ref-run-T3-m2-s0', 'train'))).toContain('pipeline/engines/reference.ts');
  });

  it('builds the kernel before a fast-engine run, and only then', () => {
    expect(target('base-run-T3-m2-s0', 'train').dependsOn).toContainEqual({ projects: ['kernel'], target: 'wasm' });
    expect(target('ref-run-T3-m2-s0', 'train').dependsOn).not.toContainEqual({ projects: ['kernel'], target: 'wasm' });
  });

  it('keys geometry and rendering on their own code, not on the training code', () => {
    const geometry = fileInputs(target('base-run-T3-m2-s0', 'geometry'));
    expect(geometry).toEqual(expect.arrayContaining(['pipeline/stages/geometry.ts', 'pipeline/geometry/dimensionality.ts']));
    expect(geometry.filter((f) => /pipeline\/(train|kernel|render)\//.test(f))).toEqual([]);
    const render = target('base-figure-small-datasets', 'render');
    expect(fileInputs(render)).toEqual(expect.arrayContaining(['pipeline/render/render.ts', 'pipeline/render/fonts.conf', 'figures/small-datasets/**/*', 'figures/theme.json']));
    expect(fileInputs(render).filter((f) => /pipeline\/(train|kernel|model|engines\/(reference|tfjs))|geometry\/(dimensionality|norms|hidden)/.test(f))).toEqual([]);
    expect(packages(render)).toEqual(expect.arrayContaining(['vega', 'vega-lite', 'canvas', 'dejavu-fonts-ttf', 'tsx']));
  });

  it('lets a task read only the deterministic outputs of the tasks before it (never timing.json): early cutoff', () => {
    expect(upstreamGlobs(target('base-run-T3-m2-s0', 'train'))).toEqual(['**/points.bin', '**/*.wasm']);
    expect(upstreamGlobs(target('base-run-T3-m2-s0', 'geometry'))).toEqual(['**/points.bin', '**/weights.bin', '**/inits.bin', '**/metrics.json', '**/snapshots.bin']);
    expect(upstreamGlobs(target('base-figure-small-datasets', 'render'))).toEqual(['**/geometry/*.json']);
    expect(target('base-run-T3-m2-s0', 'train').outputs).toContain('{workspaceRoot}/data/base/runs/T3-m2-s0/timing.json');
  });

  it('names only files that exist as inputs', () => {
    for (const p of Object.values(projects))
      for (const t of Object.values(p.targets))
        for (const f of fileInputs(t as { inputs: unknown[] })) if (!f.includes('*') && !f.startsWith('{projectRoot}')) expect(existsSync(join(ROOT, f)), f).toBe(true);
  });

  it('never runs a run that takes the whole machine beside another task: a threaded engine, with a step large enough to pay for its workers', () => {
    // n = 100: T = 1000 is 100,000 pairs per step, below the 2^20 under which a run trains on one thread beside others;
    // n = 2000: 2,000,000 pairs, above it.
    expect(target('base-run-T1000-m2-s0', 'train').parallelism).toBe(true);
    expect(target('big-run-T1000-m2-s0', 'train').parallelism).toBe(false);
    expect(target('big-run-T30-m2-s0', 'train').parallelism).toBe(true);
    // T = infinity: a batch of onlineBatchSize (50) points, whatever n.
    expect(target('big-run-Tinf-m2-s0', 'train').parallelism).toBe(true);
    // The reference engine uses one thread however large the step.
    expect(target('big-ref-run-T1000-m2-s0', 'train').parallelism).toBe(true);
  });

  it('holds only the profiles a command asks for (a build: its own), with the same tasks as the whole graph', () => {
    const only = Object.values(buildGraph(ROOT, file, ['ref']));
    expect(new Set(only.map((p) => p.name.split('-')[0]))).toEqual(new Set(['kernel', 'ref']));
    for (const p of only) expect(p).toEqual(Object.values(projects).find((q) => q.name === p.name));
    expect(Object.values(buildGraph(ROOT, file, [])).map((p) => p.name)).toEqual(['kernel']);
    process.env[PROFILES_ENV] = 'tf,ref';
    try {
      expect(new Set(Object.values(buildGraph(ROOT, file)).map((p) => p.name.split('-')[0]))).toEqual(new Set(['kernel', 'tf', 'ref']));
    } finally {
      delete process.env[PROFILES_ENV];
    }
    expect(() => buildGraph(ROOT, file, ['nonesuch'])).toThrow(/SMDD_NX_PROFILES: no profile named "nonesuch"/);
  });

  it('rejects a training.engine that names no registered engine, naming the file and field', () => {
    const bad = fixtureExperiment();
    bad.profiles.base.runOverrides.push({ T: 30, training: { engine: 'cuda' } });
    const badFile = join(dir, 'bad-engine.json');
    writeFileSync(badFile, JSON.stringify(bad));
    expect(() => buildGraph(ROOT, badFile)).toThrow(/bad-engine\.json: profiles\.base\.runOverrides\.1\.training\.engine: expected one of fast, reference, tfjs, gpu, found "cuda"/);
  });

  it('writes the gallery after every figure of the profile, uncached (its manifest records the commit)', () => {
    const build = target('base', 'build') as unknown as { options: { command: string }; dependsOn: unknown[]; cache: boolean };
    expect(build.options.command).toContain('pipeline/commands/gallery.ts --profile base');
    expect(build.dependsOn).toEqual([{ projects: ['base-figure-small-datasets'], target: 'render' }]);
    expect(build.cache).toBe(false);
  });

  it('gives a render the hash of its own code, for the figure\'s provenance, and no other task one', () => {
    expect(target('base-figure-small-datasets', 'render').options.command).toMatch(/ --code-hash [0-9a-f]{16}$/);
    expect(target('base-run-T3-m2-s0', 'train').options.command).not.toContain('--code-hash');
  });

  it('renders a figure after the geometry of exactly its runs', () => {
    const deps = target('base-figure-small-datasets', 'render').dependsOn as { projects: string[]; target: string }[];
    expect(deps).toEqual([{ projects: ['base-run-T3-m2-s0', 'base-run-T5-m2-s0', 'base-run-T30-m2-s0'], target: 'geometry' }]);
  });

  it("keys a render on the shared parts (figures/_shared/) its spec puts in, and on no other, so an edit to a part reruns exactly the figures that use it", () => {
    const figs = fixtureExperiment();
    figs.profiles.base.figures = ['small-datasets', 'double-descent', 'norms', 'weight-decay', 'training-steps'];
    figs.profiles.base.sweeps = {
      'weight-decay': { description: 'weight-decay', datasetSizes: [3, 30], hiddenDims: [4], vary: { field: 'weightDecay', values: [0, 0.1] } },
      'training-steps': { description: 'training-steps', datasetSizes: [3, 30], hiddenDims: [4], vary: { field: 'steps', values: [500, 1000] } },
    };
    const figsFile = join(dir, 'figures-experiment.json');
    writeFileSync(figsFile, JSON.stringify(figs));
    const graph = Object.fromEntries(Object.values(buildGraph(ROOT, figsFile)).map((p) => [p.name, p]));
    const parts = (figure: string) => {
      const inputs = fileInputs(graph[`base-figure-${figure}`].targets.render as { inputs: unknown[] });
      expect(inputs, figure).toContain(`figures/${figure}/**/*`);
      return inputs.filter((f) => f.startsWith('figures/') && !f.startsWith(`figures/${figure}/`) && f !== 'figures/theme.json');
    };
    const part = (name: string) => `figures/_shared/${name}.vl.json`;
    expect(parts('small-datasets')).toEqual([]);
    expect(parts('weight-decay')).toEqual(['loss-reference', 'sweep-bump', 't-axis'].map(part));
    expect(parts('training-steps')).toEqual(parts('weight-decay'));
    const users = (p: string) => ['small-datasets', 'double-descent', 'norms', 'weight-decay', 'training-steps'].filter((f) => parts(f).includes(part(p)));
    expect(users('vector-strip')).toEqual(['double-descent', 'norms']);
    expect(users('regime-bands')).toEqual(['double-descent']);
    expect(users('line-end-label')).toEqual(['norms']);
    expect(users('t-axis')).toEqual(['double-descent', 'norms', 'weight-decay', 'training-steps']);
    expect(users('sweep-bump')).toEqual(['weight-decay', 'training-steps']);
  });
});
