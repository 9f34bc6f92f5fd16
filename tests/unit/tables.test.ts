import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Profile } from '../../pipeline/config/schema.ts';
import { planProfile, type RunPlan } from '../../pipeline/config/plan.ts';
import { planFigure, type FigureFile } from '../../pipeline/config/figures.ts';
import { FormatError } from '../../pipeline/files/error.ts';
import { gatherTables, type Row } from '../../pipeline/render/tables.ts';

/**
 * A test-owned profile: T in {5, 1500, 2000, infinity}, two dataset seeds, m in {2, 4}. Geometry is
 * written for the m = 2 runs only, so a figure that read an m = 4 run would fail on a missing file.
 */
const profile = Profile.parse({
  description: 'gatherTables test',
  data: { features: 3, sparsity: 0.5, emptyPoint: 'redraw', datasetSeeds: [0, 1], testSetSize: 10, testSeed: 0 },
  model: { hiddenDims: [2, 4], init: 'xavier-normal', biasInit: 'zeros' },
  training: {
    engine: 'reference', steps: 10, warmupSteps: 1, peakLearningRate: 0.001, weightDecay: 0, decayBias: true,
    betas: [0.9, 0.999], eps: 1e-8, initsPerRun: 1, onlineBatchSize: 4, lossCurvePoints: 2,
  },
  datasetSizes: [5, 1500, 2000, 'infinity'],
  runOverrides: [],
  geometry: { maxExamplesPerRun: 10 },
  execution: { checkpointEverySteps: 10, workers: 1 },
  figures: ['every-table', 'some-sizes', 'no-geometry', 'moments', 'every-m', 'every-init', 'optional-sweep', 'missing-sweep'],
});
const plan = planProfile('tables', profile);

const figures: Record<string, FigureFile> = {
  'every-table': { title: 'all', description: 'every table, every size', sweep: 'main', m: 2, sizes: 'all', tables: ['runs', 'features', 'examples', 'vectors'] },
  'some-sizes': { title: 'some', description: 'vectors at T = 5 and infinity', sweep: 'main', m: 2, sizes: [5, 'infinity'], tables: ['vectors'] },
  'no-geometry': { title: 'm = 4', description: 'runs whose geometry was never built', sweep: 'main', m: 4, sizes: [5], tables: ['vectors'] },
  moments: { title: 'moments', description: 'the geometry at snapshots', sweep: 'main', m: 2, sizes: [5], tables: ['moments', 'momentVectors'] },
  'every-m': { title: 'T x m', description: 'runs of every m', sweep: 'main', m: 'all', sizes: [2000], tables: ['runs'] },
  'every-init': { title: 'inits', description: 'every init of every run', sweep: 'main', m: 2, sizes: [5, 1500], tables: ['runs', 'inits'] },
  'optional-sweep': { title: 'opt', description: 'a sweep drawn where the profile has it', sweep: ['main', 'seeds?'], m: 2, sizes: [5], tables: ['runs'] },
  'missing-sweep': { title: 'typo', description: 'a sweep the profile lacks, not optional', sweep: ['main', 'seeds'], m: 2, sizes: [5], tables: ['runs'] },
};

/** A run's geometry, with values that say which run they come from (its index in the plan); complete, as its contracts (pipeline/contracts/) want. */
function geometryOf(r: RunPlan) {
  const i = plan.runs.indexOf(r);
  const stats = { normW: i, normB: 0, maxFeatureDimensionality: 0.2, featuresLearned: 0, meanExampleDimensionality: 0.5 };
  return {
    features: [0, 1, 2].map((f) => ({ feature: f, x: i + 1, y: f, norm: 1, dimensionality: 0.1 * f })),
    examples: [0, 1].map((t) => ({ example: t, x: -(i + 1), y: t, norm: 2, dimensionality: 0.5 })),
    summary: {
      run: r.id, T: r.T === 'infinity' ? null : r.T, m: r.m, datasetSeed: r.datasetSeed, n: 3, sparsity: 0.5, engine: 'reference 1',
      testLoss: 1 + i / 100, finalTrainLoss: 1, ...stats, examplesInTable: 2, examples: 2,
      inits: [
        { init: 0, chosen: false, testLoss: 50 + i, finalTrainLoss: 2, ...stats, normW: 100 + i },
        { init: 1, chosen: true, testLoss: 1 + i / 100, finalTrainLoss: 1, ...stats },
      ],
    },
    stats,
  };
}

/** A run's moments.json: two snapshots, a summary row and two vectors each. */
const momentsOf = (r: RunPlan) => {
  const at = (snapshot: number) => ({ snapshot, step: snapshot * 10, progress: snapshot });
  return {
    summary: [0, 1].map((snapshot) => ({ ...at(snapshot), ...geometryOf(r).stats, testLoss: 1 - snapshot / 10, trainLoss: 1 })),
    vectors: [0, 1].flatMap((snapshot) => [
      { feature: 0, x: snapshot, y: r.datasetSeed, norm: 1, dimensionality: 0.1, ...at(snapshot), kind: 'feature' },
      { example: 0, x: -snapshot, y: r.datasetSeed, norm: 1, dimensionality: 0.5, ...at(snapshot), kind: 'example' },
    ]),
  };
};

const write = (file: string, value: unknown) => {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(value));
};

/** The tables of one figure of the test profile. */
const gather = (name: string) => gatherTables(planFigure(plan, name));
const runIds = (rows: Row[]) => [...new Set(rows.map((row) => row.run))];

// Run files are relative to the workspace, as in a build: the tests work in a temporary one.
const cwd = process.cwd();
const workspace = mkdtempSync(join(tmpdir(), 'smdd-tables-'));
beforeAll(() => {
  process.chdir(workspace);
  for (const [name, figure] of Object.entries(figures)) write(`figures/${name}/figure.json`, figure);
  for (const r of plan.runs.filter((r) => r.m === 2)) {
    const g = geometryOf(r);
    write(r.files.geometry.features, g.features);
    write(r.files.geometry.examples, g.examples);
    write(r.files.geometry.summary, g.summary);
    if (r.T === 5) write(r.files.geometry.moments, momentsOf(r));
  }
  for (const r of plan.runs.filter((r) => r.m === 4 && r.T === 2000)) write(r.files.geometry.summary, geometryOf(r).summary);
});
afterAll(() => {
  process.chdir(cwd);
  rmSync(workspace, { recursive: true, force: true });
});

describe('gatherTables', () => {
  it('gives a figure exactly the tables its figure.json lists', () => {
    expect(Object.keys(gather('every-table')).sort()).toEqual(['examples', 'features', 'runs', 'vectors']);
    expect(Object.keys(gather('some-sizes'))).toEqual(['vectors']);
  });

  it("adds the run's fields to every row: T (null for infinity), Tx, Tlabel ('5', '1500', '2k', '∞'), m, datasetSeed", () => {
    const fields = ({ run, T, Tx, Tlabel, m, datasetSeed }: Row) => ({ run, T, Tx, Tlabel, m, datasetSeed });
    const expected = [
      { run: 'T5-m2-s0', T: 5, Tx: 5, Tlabel: '5', m: 2, datasetSeed: 0 },
      { run: 'T5-m2-s1', T: 5, Tx: 5, Tlabel: '5', m: 2, datasetSeed: 1 },
      { run: 'T1500-m2-s0', T: 1500, Tx: 1500, Tlabel: '1500', m: 2, datasetSeed: 0 },
      { run: 'T1500-m2-s1', T: 1500, Tx: 1500, Tlabel: '1500', m: 2, datasetSeed: 1 },
      { run: 'T2000-m2-s0', T: 2000, Tx: 2000, Tlabel: '2k', m: 2, datasetSeed: 0 },
      { run: 'T2000-m2-s1', T: 2000, Tx: 2000, Tlabel: '2k', m: 2, datasetSeed: 1 },
      { run: 'Tinf-m2-s0', T: null, Tx: 8000, Tlabel: '∞', m: 2, datasetSeed: 0 },
      { run: 'Tinf-m2-s1', T: null, Tx: 8000, Tlabel: '∞', m: 2, datasetSeed: 1 },
    ];
    const tables = gather('every-table');
    expect(tables.runs.map(fields)).toEqual(expected);
    for (const table of ['features', 'examples', 'vectors']) {
      const byRun = new Map(tables[table].map((row) => [row.run, fields(row)]));
      expect([...byRun.values()]).toEqual(expected);
    }
  });

  it("keeps each table's own columns: the run's summary, the feature rows and the example rows as written", () => {
    const tables = gather('every-table');
    const r = plan.runs.find((r) => r.id === 'T1500-m2-s1')!;
    const g = geometryOf(r);
    const ofRun = (rows: Row[]) => rows.filter((row) => row.run === r.id);
    const { inits: _, ...summary } = g.summary;
    expect(ofRun(tables.runs)).toEqual([{ ...summary, T: 1500, Tx: 1500, Tlabel: '1500', m: 2, datasetSeed: 1, sparsity: 0.5, weightDecay: 0, steps: 10, peakLearningRate: 0.001, repeats: 1 }]);
    expect(ofRun(tables.features).map(({ feature, x, y, norm, dimensionality }) => ({ feature, x, y, norm, dimensionality }))).toEqual(g.features);
    expect(ofRun(tables.examples).map(({ example, x, y, norm, dimensionality }) => ({ example, x, y, norm, dimensionality }))).toEqual(g.examples);
    expect(ofRun(tables.features).every((row) => !('kind' in row))).toBe(true);
  });

  it('gives `inits` one row per init of every run, its own numbers with the run\'s fields, the chosen one marked; `runs` keeps no list of them', () => {
    const tables = gather('every-init');
    expect(tables.inits.map((row) => [row.run, row.init, row.chosen])).toEqual(
      ['T5-m2-s0', 'T5-m2-s1', 'T1500-m2-s0', 'T1500-m2-s1'].flatMap((run) => [[run, 0, false], [run, 1, true]]),
    );
    const r = plan.runs.find((r) => r.id === 'T1500-m2-s1')!;
    const i = plan.runs.indexOf(r);
    expect(tables.inits.filter((row) => row.run === r.id)[0]).toMatchObject({ testLoss: 50 + i, normW: 100 + i, T: 1500, datasetSeed: 1, Tlabel: '1500' });
    expect(tables.runs.every((row) => !('inits' in row))).toBe(true);
  });

  it('draws a sweep named with "?" only where the profile defines it; any other sweep it lacks is an error naming it', () => {
    expect(planFigure(plan, 'optional-sweep').runs.map((r) => r.id)).toEqual(['T5-m2-s0', 'T5-m2-s1']);
    expect(() => planFigure(plan, 'missing-sweep')).toThrowError('figure missing-sweep draws sweep "seeds", which profile tables does not define');
  });

  it("places infinity 4x right of the largest finite T among the figure's runs, not the profile's", () => {
    const inf = gather('some-sizes').vectors.filter((row) => row.Tlabel === '∞');
    expect(inf.length).toBeGreaterThan(0);
    expect(new Set(inf.map((row) => row.Tx))).toEqual(new Set([20]));
  });

  it("gives `vectors` each feature vector with kind 'feature' and each kept training example with kind 'example'", () => {
    const { vectors } = gather('every-table');
    for (const r of plan.runs.filter((r) => r.m === 2)) {
      const g = geometryOf(r);
      const rows = vectors.filter((row) => row.run === r.id);
      const as = (kind: string) => rows.filter((row) => row.kind === kind).map(({ kind: _, run, T, Tx, Tlabel, m, datasetSeed, sparsity, weightDecay, steps, peakLearningRate, repeats, ...own }) => own);
      expect(as('feature')).toEqual(g.features);
      expect(as('example')).toEqual(g.examples);
      expect(rows.length).toBe(g.features.length + g.examples.length);
    }
  });

  it("reads only the figure's runs: its m and its sizes, every dataset seed", () => {
    // The m = 4 runs have no geometry: reading one would throw.
    expect(runIds(gather('some-sizes').vectors)).toEqual(['T5-m2-s0', 'T5-m2-s1', 'Tinf-m2-s0', 'Tinf-m2-s1']);
  });

  it("stops at a missing geometry file with a FormatError naming the file and saying to build the run's geometry", () => {
    const r = plan.runs.find((r) => r.id === 'T5-m4-s0')!;
    write(r.files.geometry.features, geometryOf(r).features); // its examples.json is missing
    try {
      expect(() => gather('no-geometry')).toThrowError(FormatError);
      expect(() => gather('no-geometry')).toThrowError(`${r.files.geometry.examples}: cannot be read (ENOENT); build the run's geometry first`);
    } finally {
      rmSync(r.files.geometry.features);
    }
  });

  it('rejects a geometry table that is not a list of rows, naming the file', () => {
    const r = plan.runs.find((r) => r.id === 'T5-m4-s0')!;
    write(r.files.geometry.features, { feature: 0, x: 1, y: 1 });
    try {
      expect(() => gather('no-geometry')).toThrowError(`${r.files.geometry.features}: expected a list of rows`);
    } finally {
      rmSync(r.files.geometry.features);
    }
  });

  it("gives `moments` one row per snapshot and `momentVectors` one per vector at each, with the run's fields", () => {
    const t = gather('moments');
    expect(t.moments.map((row) => [row.run, row.snapshot, row.step, row.testLoss])).toEqual([
      ['T5-m2-s0', 0, 0, 1], ['T5-m2-s0', 1, 10, 0.9], ['T5-m2-s1', 0, 0, 1], ['T5-m2-s1', 1, 10, 0.9],
    ]);
    expect(t.momentVectors).toHaveLength(8);
    expect(t.momentVectors.filter((row) => row.run === 'T5-m2-s1' && row.snapshot === 1)).toEqual([
      expect.objectContaining({ kind: 'feature', x: 1, y: 1, T: 5, m: 2 }), expect.objectContaining({ kind: 'example', x: -1, y: 1 }),
    ]);
  });

  it('names a run without snapshots when a figure asks for its moments', () => {
    const r = plan.runs.find((r) => r.id === 'T5-m2-s0')!;
    write(r.files.geometry.moments, [1, 2]);
    try {
      expect(() => gather('moments')).toThrowError(`${r.files.geometry.moments}: expected {summary: [...], vectors: [...]}`);
    } finally {
      write(r.files.geometry.moments, momentsOf(r));
    }
  });

  it('reads every m for a figure with m "all"', () => {
    expect(gather('every-m').runs.map((row) => [row.run, row.m])).toEqual([['T2000-m2-s0', 2], ['T2000-m4-s0', 4], ['T2000-m2-s1', 2], ['T2000-m4-s1', 4]]);
  });
});
