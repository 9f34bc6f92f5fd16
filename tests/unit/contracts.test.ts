import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { fixtureExperiment } from '../fixtures/experiment.ts';
import { parseExperiment } from '../../pipeline/config/load.ts';
import { planProfile, type ProfilePlan, type RunPlan } from '../../pipeline/config/plan.ts';
import { planFigure, Table } from '../../pipeline/config/figures.ts';
import { figureOutputs, profileDistDir } from '../../pipeline/config/layout.ts';
import { runDataStage } from '../../pipeline/stages/data.ts';
import { runTrainStage } from '../../pipeline/stages/train.ts';
import { runGeometryStage } from '../../pipeline/stages/geometry.ts';
import { runRenderStage } from '../../pipeline/stages/render.ts';
import { gatherTables } from '../../pipeline/render/tables.ts';
import { writeGallery } from '../../pipeline/publish/gallery.ts';
import { publishSite } from '../../pipeline/publish/site.ts';
import { readRunTables, readSweepRun } from '../../pipeline/verify.ts';
import { runSeconds } from '../../pipeline/cost.ts';
import { headerOf, readContainer, writeContainer } from '../../pipeline/format/container.ts';
import { readSparsePoints } from '../../pipeline/format/sparse.ts';
import { readWeights } from '../../pipeline/format/weights.ts';
import { readSnapshots } from '../../pipeline/format/snapshots.ts';
import { FormatError } from '../../pipeline/files/error.ts';
import { writeCheckpoint } from '../../pipeline/train/checkpoint.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';
import { Rng } from '../../pipeline/prng/rng.ts';
import {
  CheckpointHeader, Examples, Features, FigureTables, Manifest, Metrics, Moments, PointsHeader, Provenance, PublishRecord,
  SnapshotsHeader, STAGE_FILES, Summary, Timing, WeightsHeader, readContract,
} from '../../pipeline/contracts/index.ts';

/**
 * Every file the pipeline writes is what its contract (pipeline/contracts/) says, checked on a tiny real
 * build made in this process by the stages themselves (the reference engine; a T = infinity run, a repeated
 * point, weight snapshots, two figures, the gallery and a publish); and a file that is not stops its reader
 * with the file and the field.
 */
const REPO = join(import.meta.dirname, '..', '..');
const P = 'contracts';
const config = fixtureExperiment();
config.defaultProfile = P;
config.profiles[P] = {
  extends: 'base', description: 'a tiny real build for the contract tests',
  data: { features: 12, sparsity: 0.8, testSetSize: 40 },
  training: { engine: 'reference', steps: 30, warmupSteps: 3, initsPerRun: 2, onlineBatchSize: 6, lossCurvePoints: 4 },
  datasetSizes: [3, 'infinity'], runOverrides: [], geometry: { maxExamplesPerRun: 4 },
  sweeps: {
    repeated: { description: 'a repeated point, with snapshots', datasetSizes: [8], repeats: [3], training: { weightSnapshots: 3 } },
    dynamics: { description: 'snapshots, also at T = infinity', datasetSizes: [8, 'infinity'], training: { weightSnapshots: 3 } },
  },
  figures: ['repeated-datapoint', 'training-dynamics'],
};
const plan: ProfilePlan = planProfile(P, parseExperiment(config, 'experiment.json').profiles[P]);

const cwd = process.cwd();
const ws = mkdtempSync(join(tmpdir(), 'smdd-contracts-'));
const site = join(ws, 'site');
const args = (id: string) => ({ profile: P, id, config: 'experiment.json' });
const quiet = () => {};
/** A run of the plan by a predicate. */
const runWhere = (f: (r: RunPlan) => boolean) => plan.runs.find(f)!;

beforeAll(async () => {
  process.chdir(ws);
  writeFileSync('experiment.json', JSON.stringify(config));
  cpSync(join(REPO, 'figures'), 'figures', { recursive: true });
  for (const ds of [...plan.testSets, ...plan.datasets]) runDataStage(args(ds.id), quiet);
  for (const r of plan.runs) {
    await runTrainStage(args(r.id), quiet);
    runGeometryStage(args(r.id), quiet);
  }
  for (const f of plan.figures) await runRenderStage(args(f), quiet);
  writeGallery(profileDistDir(P), { profile: P, figures: plan.figures, root: ws, commit: null });
  cpSync(join(REPO, 'tests', 'fixtures', 'site'), site, { recursive: true });
  publishSite({ site, root: ws });
}, 300_000);
afterAll(() => {
  process.chdir(cwd);
  rmSync(ws, { recursive: true, force: true });
});

/** The error `f` throws, which must be a FormatError. */
function formatError(f: () => unknown): FormatError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return e as FormatError;
  }
  throw new Error('expected a FormatError, but none was thrown');
}

/** A copy of a written JSON file with `edit` applied, in the run's folder (so the message names a real path). */
function edited(file: string, edit: (v: any) => unknown, text?: string): string {
  const copy = file.replace(/\.json$/, '.edited.json');
  const v = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(copy, text ?? JSON.stringify(edit(v) ?? v, null, 1));
  return copy;
}

describe('the contracts accept what the pipeline writes', () => {
  it('the tiny build has what the tests below need: T = infinity, a repeated point, snapshots', () => {
    expect(plan.runs.some((r) => r.T === 'infinity' && r.spec.training.weightSnapshots > 0)).toBe(true);
    expect(plan.runs.some((r) => r.repeats > 1 && r.spec.training.weightSnapshots > 0)).toBe(true);
  });

  it('points.bin, weights.bin and snapshots.bin: their headers (kind, meta, arrays)', () => {
    for (const ds of [...plan.testSets, ...plan.datasets]) {
      const h = PointsHeader.parse(headerOf(readContainer(ds.files.points)));
      expect(h.meta).toMatchObject({ label: ds.spec.label, n: 12, count: ds.spec.count });
      expect(readSparsePoints(ds.files.points).meta).toEqual(h.meta);
    }
    for (const r of plan.runs) {
      expect(WeightsHeader.parse(headerOf(readContainer(r.files.weights))).meta).toMatchObject({ run: r.id, profile: P, n: 12, m: 2 });
      expect(readWeights(r.files.weights).meta.run).toBe(r.id);
      if (r.spec.training.weightSnapshots > 0) {
        expect(SnapshotsHeader.parse(headerOf(readContainer(r.files.snapshots))).meta.steps).toEqual([0, 15, 30]);
        expect(readSnapshots(r.files.snapshots)).toHaveLength(3);
      } else expect(existsSync(r.files.snapshots)).toBe(false);
    }
  });

  it('checkpoint.bin: its header, for one init and for three', () => {
    const params = xavierNormalInit(5, 2, Rng.fromLabel('contracts/checkpoint'));
    const zeros = () => new Float64Array(5 * 2 + 5);
    for (const k of [1, 3]) {
      const file = join(ws, `checkpoint-${k}.bin`);
      const each = <T>(f: () => T) => Array.from({ length: k }, f);
      writeCheckpoint(file, {
        key: 'k', nextStep: 7, curves: each(() => [{ step: 0, loss: 1 }]), snapshots: each(() => [{ step: 0, params }]),
        onlineRng: Rng.fromLabel('contracts/online').state(), sessions: each(() => ({ params, m: zeros(), v: zeros(), t: 7, beta1Power: 0.9 ** 7, beta2Power: 0.999 ** 7 })),
      });
      const h = CheckpointHeader.parse(headerOf(readContainer(file)));
      expect(h.arrays.map((a) => a.name)).toEqual(['W', 'b', 'm', 'v', 'snapW', 'snapB']);
      expect(h.meta.optimiser).toHaveLength(k);
    }
  });

  it('metrics.json and timing.json', () => {
    for (const r of plan.runs) {
      const metrics = Metrics.parse(JSON.parse(readFileSync(r.files.metrics, 'utf8')));
      expect(metrics).toMatchObject({ run: r.id, T: r.T, engine: { name: 'reference' } });
      expect(Timing.parse(JSON.parse(readFileSync(r.files.timing, 'utf8'))).run).toBe(r.id);
      expect(runSeconds(r)).toBeGreaterThanOrEqual(0);
    }
  });

  it('geometry: summary.json, features.json, examples.json, and moments.json where the run keeps snapshots', () => {
    for (const r of plan.runs) {
      const g = r.files.geometry;
      const summary = readContract(g.summary, Summary);
      expect(summary).toMatchObject({ run: r.id, T: r.T === 'infinity' ? null : r.T, engine: expect.stringMatching(/^reference /) });
      expect('repeats' in summary).toBe(r.repeats > 1);
      expect(readContract(g.features, Features)).toHaveLength(12);
      const examples = readContract(g.examples, Examples);
      expect(examples).toHaveLength(summary.examplesInTable);
      expect(examples.some((e) => e.repeated)).toBe(r.repeats > 1);
      if (r.spec.training.weightSnapshots > 0) {
        const moments = readContract(g.moments, Moments);
        expect(moments.summary.map((s) => s.step)).toEqual([0, 15, 30]);
        expect(moments.summary.every((s) => (s.trainLoss === null) === (r.T === 'infinity'))).toBe(true);
      } else expect(existsSync(g.moments)).toBe(false);
    }
  });

  it('parses to the very values written: a reader sees the rows, keys in order, as the writer made them', () => {
    const g = runWhere((r) => r.repeats > 1).files.geometry;
    for (const [file, schema] of [[g.summary, Summary], [g.features, Features], [g.examples, Examples], [g.moments, Moments]] as const) {
      const text = readFileSync(file, 'utf8');
      expect(JSON.stringify(readContract(file, schema as z.ZodType), null, 1) + '\n').toBe(text);
    }
  });

  it("the tables a figure reads: every figure's rows", () => {
    for (const f of plan.figures) {
      const tables = gatherTables(planFigure(plan, f));
      expect(() => FigureTables.parse(tables), f).not.toThrow();
    }
    // Every table at once, with a strip: the repeated point's run keeps snapshots.
    const fp = planFigure(plan, 'repeated-datapoint');
    const every = Table.options;
    const tables = FigureTables.parse(gatherTables({ ...fp, figure: { ...fp.figure, tables: every, strip: [8] } }));
    expect(Object.keys(tables).sort()).toEqual([...every].sort());
    expect(tables.vectors!.every((row) => row.inStrip === true)).toBe(true);
  });

  it('what verify and cost read', () => {
    const tables = readRunTables(plan.runs);
    expect(tables.map((t) => t.summary.m)).toEqual(plan.runs.map(() => 2));
    expect(readSweepRun(plan.runs[0]).testLoss).toBeGreaterThan(0);
  });

  it('provenance, the manifest, the publish record', () => {
    for (const f of plan.figures) {
      const prov = Provenance.parse(JSON.parse(readFileSync(figureOutputs(P, f).provenance, 'utf8')));
      expect(prov.profile).toBe(P);
      expect(prov.frames === undefined).toBe(f !== 'training-dynamics');
    }
    const manifest = Manifest.parse(JSON.parse(readFileSync(join(profileDistDir(P), 'manifest.json'), 'utf8')));
    expect(manifest.figures.map((f) => f.name)).toEqual([...plan.figures].sort());
    const record = PublishRecord.parse(JSON.parse(readFileSync(join(site, '_data', 'superposition_figures.publish.json'), 'utf8')));
    expect(Object.keys(record.files).length).toBeGreaterThan(plan.figures.length);
  });

  it('the files each stage writes are where its task says, and each stage reads what the stage before it wrote', () => {
    const exists = (f: string) => existsSync(f);
    const snapshotsRun = runWhere((r) => r.spec.training.weightSnapshots > 0);
    for (const ds of plan.datasets) expect(STAGE_FILES.data.writes(ds.files).every(exists)).toBe(true);
    expect(STAGE_FILES.train.writes(snapshotsRun.files).every(exists)).toBe(true);
    expect(STAGE_FILES.geometry.writes(snapshotsRun.files).every(exists)).toBe(true);
    for (const f of plan.figures) expect(STAGE_FILES.render.writes(figureOutputs(P, f)).filter(exists).length).toBeGreaterThanOrEqual(3);
    // A name read under a dependency's output matches a file that dependency writes.
    const glob = (name: string) => new RegExp(`(^|/)${name.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`);
    const matches = (name: string, files: string[]) => files.some((f) => glob(name).test(f));
    const trained = [snapshotsRun.files.weights, snapshotsRun.files.inits, snapshotsRun.files.metrics, snapshotsRun.files.snapshots];
    for (const name of STAGE_FILES.geometry.reads) expect(matches(name, [plan.datasets[0].files.points, ...trained]), name).toBe(true);
    expect(STAGE_FILES.geometry.reads.some((n) => n.includes('timing')), 'never timing.json').toBe(false);
    for (const name of STAGE_FILES.render.reads) expect(matches(name, Object.values(snapshotsRun.files.geometry).filter((f) => f.endsWith('.json'))), name).toBe(true);
  });
});

describe('a file that is not what its contract says stops its reader, naming the file and the field', () => {
  const run = () => runWhere((r) => r.T === 3);

  it('summary.json with a field of the wrong type', () => {
    const file = edited(run().files.geometry.summary, (s) => ({ ...s, testLoss: 'x' }));
    expect(formatError(() => readContract(file, Summary)).message).toBe(`${file}: testLoss: expected a number, found "x"`);
  });

  it('summary.json cut short: as text, it is not JSON; as an object, its missing fields are named', () => {
    const text = readFileSync(run().files.geometry.summary, 'utf8');
    const cut = edited(run().files.geometry.summary, () => null, text.slice(0, text.length / 2));
    expect(formatError(() => readContract(cut, Summary)).message).toMatch(new RegExp(`^${cut}: not valid JSON`));
    const partial = edited(run().files.geometry.summary, (s) => Object.fromEntries(Object.entries(s).slice(0, 8)));
    const message = formatError(() => readContract(partial, Summary)).message;
    expect(message).toContain(`${partial}: finalTrainLoss: expected a number, found nothing (the field is missing)`);
    expect(message).toContain('normW: expected a number, found nothing (the field is missing)');
  });

  it('summary.json with a field no contract knows, or T neither a size nor null', () => {
    const extra = edited(run().files.geometry.summary, (s) => ({ ...s, testLos: 1 }));
    expect(formatError(() => readContract(extra, Summary)).message).toBe(`${extra}: testLos: unknown field "testLos"`);
    const T = edited(run().files.geometry.summary, (s) => ({ ...s, T: 'infinity' }));
    expect(formatError(() => readContract(T, Summary)).message).toBe(`${T}: T: expected an integer, or null for infinity, found "infinity"`);
  });

  it('the render stage and verify name the broken geometry file and its field', () => {
    const r = run();
    const original = readFileSync(r.files.geometry.features, 'utf8');
    try {
      writeFileSync(r.files.geometry.features, original.replace('"dimensionality": ', '"dimensionality": "a lot", "was": '));
      const message = formatError(() => readRunTables([r])).message;
      expect(message).toContain(`${r.files.geometry.features}: 0.dimensionality: expected a number, found "a lot"`);
      expect(message).toContain('0.was: unknown field "was"');
      const fp = planFigure(plan, 'repeated-datapoint');
      expect(() => gatherTables({ ...fp, figure: { ...fp.figure, tables: ['vectors'] }, runs: [r] })).toThrow(`${r.files.geometry.features}: 0.dimensionality: expected a number, found "a lot"`);
    } finally {
      writeFileSync(r.files.geometry.features, original);
    }
  });

  it('metrics.json with a missing loss: the geometry stage stops on it', () => {
    const r = run();
    const original = readFileSync(r.files.metrics, 'utf8');
    try {
      const { testLoss: _, ...rest } = JSON.parse(original);
      writeFileSync(r.files.metrics, JSON.stringify(rest));
      expect(formatError(() => runGeometryStage(args(r.id), quiet)).message).toBe(`${r.files.metrics}: testLoss: expected a number, found nothing (the field is missing)`);
    } finally {
      writeFileSync(r.files.metrics, original);
      runGeometryStage(args(r.id), quiet);
    }
  });

  it('moments.json of a run without snapshots, and a list of rows that is not one', () => {
    const file = edited(run().files.geometry.features, () => ({ feature: 0 }));
    expect(formatError(() => readContract(file, Features)).message).toBe(`${file}: expected a list of rows, found {"feature":0}`);
    const moments = edited(run().files.geometry.features, () => [1, 2]);
    expect(formatError(() => readContract(moments, Moments)).message).toMatch(/: expected \{summary: \[\.\.\.\], vectors: \[\.\.\.\]\} \(does the run keep weight snapshots\? training\.weightSnapshots\), found \[1,2\]$/);
  });

  it('a container whose header breaks its kind\'s contract: the meta field, or the arrays', () => {
    const file = join(ws, 'bad-weights.bin');
    const W = new Float64Array(4), b = new Float64Array(2);
    writeContainer(file, { kind: 'toy-model-weights', meta: { n: 2, m: 2 }, arrays: { W, b } });
    expect(formatError(() => readWeights(file)).message).toBe(`${file}: corrupt: header.meta.layout: expected "W feature-major n x m", found nothing (the field is missing)`);
    writeContainer(file, { kind: 'sparse-points', meta: { label: 'x', n: 2, count: 1, nnz: 0 }, arrays: { rowPtr: new Uint32Array(2), col: new Uint32Array(0), val: new Float64Array(0) } });
    expect(formatError(() => readSparsePoints(file)).message).toBe(`${file}: corrupt: header.arrays: expected the arrays rowPtr (u32), col (u32), val (f32), found rowPtr (u32), col (u32), val (f64)`);
    writeContainer(file, { kind: 'sparse-points', meta: { label: 'x', n: 2.5, count: 1, nnz: 0 }, arrays: { rowPtr: new Uint32Array(2), col: new Uint32Array(0), val: new Float32Array(0) } });
    expect(formatError(() => readSparsePoints(file)).message).toBe(`${file}: corrupt: header.meta.n: expected an integer, found 2.5`);
  });

  it('a provenance file without its profile stops the gallery; a publish record with a bad hash stops publishing', () => {
    const dist = join(ws, 'dist-broken');
    cpSync(profileDistDir(P), dist, { recursive: true });
    const prov = join(dist, 'repeated-datapoint.provenance.json');
    const { profile: _, ...rest } = JSON.parse(readFileSync(prov, 'utf8'));
    writeFileSync(prov, JSON.stringify(rest));
    expect(formatError(() => writeGallery(dist, { profile: P, figures: plan.figures, root: ws, commit: null })).message)
      .toBe(`${prov}: profile: expected a string, found nothing (the field is missing)`);
    const record = join(site, '_data', 'superposition_figures.publish.json');
    const original = readFileSync(record, 'utf8');
    try {
      const r = JSON.parse(original);
      const first = Object.keys(r.files)[0];
      r.files[first] = 'not a hash';
      writeFileSync(record, JSON.stringify(r));
      expect(formatError(() => publishSite({ site, root: ws })).message).toBe(`${join(site, '_data', 'superposition_figures.publish.json')}: files.${first}: expected a SHA-256 (64 hex digits), found "not a hash"`);
    } finally {
      writeFileSync(record, original);
    }
  });
});

describe('readContract', () => {
  it('lists at most five problems, then how many more', () => {
    const file = join(ws, 'many.json');
    mkdirSync(ws, { recursive: true });
    writeFileSync(file, JSON.stringify({}));
    const message = formatError(() => readContract(file, Summary)).message;
    expect(message.split('; ')).toHaveLength(6);
    expect(message).toMatch(/; and \d+ more$/);
  });
});
