import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, editJson, makeWorkspace, removeWorkspace } from './workspace.ts';

/**
 * The promise of the task graph, checked through Nx itself on a tiny profile: after each
 * edit, exactly the tasks that load what changed run again, and a rebuild stops where the
 * bytes stop changing (early cutoff).
 */
const P = 'tiny';
const data = (id: string) => `${P}-data-${id}:data`;
const train = (T: string) => `${P}-run-T${T}-m2-s0:train`;
const geometry = (T: string) => `${P}-run-T${T}-m2-s0:geometry`;
const render = (f: string) => `${P}-figure-${f}:render`;
const FIGS = ['double-descent', 'norms', 'small-datasets', 'superposition-pentagon'].map(render);
/** The figures that draw a finite T (the pentagon draws T = infinity alone). */
const FINITE_FIGS = FIGS.filter((f) => f !== render('superposition-pentagon'));
const sizes = ['3', '5', '8', '30', 'inf'];
const everyTrain = sizes.map(train);
const everyGeometry = sizes.map(geometry);
const everyRun = [...everyTrain, ...everyGeometry];
const everyData = ['T3-s0', 'T5-s0', 'T8-s0', 'T30-s0', 'test'].map(data);
const sorted = (xs: string[]) => [...xs].sort();

describe('incremental rebuilds through Nx', () => {
  let dir: string;
  const cfg = () => join(dir, 'experiment.json');
  beforeAll(async () => {
    dir = makeWorkspace('smdd-incr');
    editJson(cfg(), (c) => {
      c.profiles[P] = {
        extends: 'quick',
        description: 'A tiny profile for the incremental-build test.',
        data: { testSetSize: 2000 },
        training: { steps: 200, warmupSteps: 20, initsPerRun: 1, onlineBatchSize: 100 },
        datasetSizes: [3, 5, 8, 30, 'infinity'],
        // The main grid's figures only: quick's sweeps stay planned but unbuilt.
        figures: ['superposition-pentagon', 'small-datasets', 'double-descent', 'norms'],
      };
    });
    const cold = await build(dir, P);
    expect(cold.status, cold.output.slice(-3000)).toBe(0);
    expect(sorted(cold.ran)).toEqual(sorted(['kernel:wasm', ...everyData, ...everyRun, ...FIGS]));
  }, 300_000);
  afterAll(() => removeWorkspace(dir));

  const expectRan = async (expected: string[]) => {
    const r = await build(dir, P);
    expect(r.status, r.output.slice(-3000)).toBe(0);
    expect(r.ran).toEqual(sorted(expected));
    return r;
  };

  it('runs nothing when nothing changed: stops before Nx on its stamp, and Nx, asked anyway, answers every task from the cache', async () => {
    const r = await expectRan([]);
    expect(r.output).toContain(`nothing changed since the last build of "${P}"`);
    process.stderr.write(`no-change rebuild (stamp): ${r.seconds.toFixed(1)} s\n`);
    // An output touched voids the stamp: Nx runs, finds every output as its cache holds it, and runs nothing.
    const png = join(dir, `dist/${P}/norms.png`);
    utimesSync(png, new Date(2001, 1, 1), new Date(2001, 1, 1));
    const viaNx = await expectRan([]);
    expect(viaNx.output).not.toContain('nothing changed since the last build');
    process.stderr.write(`no-change rebuild (through Nx): ${viaNx.seconds.toFixed(1)} s\n`);
    expect((await expectRan([])).output).toContain('nothing changed since the last build'); // stamped again
  }, 120_000);

  it("re-renders only that figure when one figure's spec changes", async () => {
    editJson(join(dir, 'figures/small-datasets/spec.vl.json'), (s) => (s.title.subtitle += ' (edited)'));
    await expectRan([render('small-datasets')]);
  }, 120_000);

  it('re-renders every figure and nothing else when the theme changes', async () => {
    editJson(join(dir, 'figures/theme.json'), (t) => (t.padding = 12));
    await expectRan(FIGS);
  }, 120_000);

  it('re-renders exactly the figures that use a shared part (figures/_shared/) when it changes, and that figure alone when its title changes', async () => {
    // regime-bands: double-descent only; vector-strip: double-descent and norms; a part no spec uses: no figure.
    editJson(join(dir, 'figures/_shared/regime-bands.vl.json'), (p) => (p.mark.opacity = 0.9));
    await expectRan([render('double-descent')]);
    editJson(join(dir, 'figures/_shared/vector-strip.vl.json'), (p) => (p.facet.column.sort.op = 'max'));
    await expectRan([render('double-descent'), render('norms')]);
    writeFileSync(join(dir, 'figures/_shared/unused.vl.json'), '{"mark": "point"}\n');
    await expectRan([]);
    // A spec that starts to use a part reruns, and from then on so does every edit of that part.
    editJson(join(dir, 'figures/small-datasets/spec.vl.json'), (s) => (s.spec.encoding.color = { $part: 'kind-colour' }));
    await expectRan([render('small-datasets')]);
    editJson(join(dir, 'figures/_shared/kind-colour.vl.json'), (p) => (p.title = null));
    await expectRan([render('double-descent'), render('norms'), render('small-datasets')]);
    // The title is figure.json's alone (the render step puts it in the spec).
    editJson(join(dir, 'figures/norms/figure.json'), (f) => (f.title += ' (edited)'));
    await expectRan([render('norms')]);
  }, 240_000);

  it('retrains every run after a comment-only edit of the training code, and takes geometry and renders from the cache (the weights are identical)', async () => {
    appendFileSync(join(dir, 'pipeline/train/train-run.ts'), '\n// edited by the incremental-build test\n');
    await expectRan(everyTrain);
  }, 180_000);

  it('retrains no fast-engine run when the TF.js engine changes', async () => {
    appendFileSync(join(dir, 'pipeline/engines/tfjs.ts'), '\nexport const editedByTheIncrementalTest = 1;\n');
    await expectRan([]);
  }, 120_000);

  it('reruns no data, geometry or render task when the engine code changes or a new engine is registered (the config loads no engine code)', async () => {
    appendFileSync(join(dir, 'pipeline/engines/engine.ts'), '\n// edited by the incremental-build test\n');
    const registry = join(dir, 'pipeline/engines/registry.ts');
    const before = readFileSync(registry, 'utf8');
    const after = before
      .replace(`Record<'fast' | 'reference' | 'tfjs' | 'gpu', EngineEntry>`, `Record<'fast' | 'reference' | 'tfjs' | 'gpu' | 'another', EngineEntry>`)
      .replace(/^(\s*)tfjs: \{.*\},$/m, `$&\n$1another: { summary: 'a new engine (the incremental-build test)', module: './reference.ts', threaded: false },`);
    expect(after.match(/another/g), 'the registry no longer has the lines this test edits').toHaveLength(2);
    writeFileSync(registry, after);
    // Every training loads the engine interface and the registry; its weights come out the same, so geometry and renders stay cached.
    const r = await expectRan(everyTrain);
    expect(r.ran.filter((t) => !t.endsWith(':train'))).toEqual([]);
  }, 180_000);

  it('reruns every geometry but no training when the geometry code changes, and no render when the tables come out the same', async () => {
    appendFileSync(join(dir, 'pipeline/geometry/norms.ts'), '\n// edited by the incremental-build test\n');
    await expectRan(everyGeometry);
  }, 180_000);

  it("runs only the new T's data, training and geometry, and the renders, when a T is added", async () => {
    editJson(cfg(), (c) => c.profiles[P].datasetSizes.splice(3, 0, 15));
    await expectRan([data('T15-s0'), train('15'), geometry('15'), ...FINITE_FIGS]);
  }, 180_000);

  it("retrains only that run when one run's entry changes", async () => {
    editJson(cfg(), (c) => (c.profiles[P].runOverrides = [{ T: 8, training: { steps: 150 } }]));
    await expectRan([train('8'), geometry('8'), ...FINITE_FIGS]);
  }, 180_000);

  it('retrains every run but generates no data when a shared training hyperparameter changes', async () => {
    editJson(cfg(), (c) => (c.profiles[P].training.weightDecay = 0.02));
    await expectRan([...everyRun, train('15'), geometry('15'), ...FIGS]);
  }, 300_000);

  it("reruns every task that loads the data generator when its code changes, and stops where the bytes stop changing", async () => {
    appendFileSync(join(dir, 'pipeline/data/generate.ts'), '\n// edited by the incremental-build test\n');
    // Training (T = infinity draws its batches) and geometry load the generator too; the figures' tables come out the same.
    await expectRan([...everyData, data('T15-s0'), ...everyRun, train('15'), geometry('15')]);
  }, 300_000);
});
