import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExperiment } from '../../pipeline/config/load.ts';
import { planProfile, type RunPlan } from '../../pipeline/config/plan.ts';
import { trainRun } from '../../pipeline/train/train-run.ts';
import { referenceEngine } from '../../pipeline/engines/reference.ts';
import { createFastEngine } from '../../pipeline/kernel/fast-engine.ts';
import { createGpuEngine } from '../../pipeline/engines/gpu/engine.ts';
import type { Engine } from '../../pipeline/engines/engine.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import { Rng } from '../../pipeline/prng/rng.ts';
import { fixtureExperiment } from '../fixtures/experiment.ts';

/** A training run stopped at any step and started again ends exactly where an uninterrupted run ends. */
function runs(): RunPlan[] {
  const c = fixtureExperiment();
  c.profiles.tiny = {
    extends: 'child', description: 'resume test',
    data: { features: 30, sparsity: 0.8 },
    training: { steps: 120, warmupSteps: 10, initsPerRun: 2, onlineBatchSize: 20, lossCurvePoints: 7, weightSnapshots: 4 },
    datasetSizes: [12, 'infinity'],
  };
  const exp = parseExperiment(c, 'experiment.json');
  return planProfile('tiny', exp.profiles.tiny).runs;
}

class Crash extends Error {}
/** The same engine, but the process "dies" before the span that would take the run past step `after`. */
function crashing(engine: Engine, after: number): Engine {
  return {
    name: engine.name, version: engine.version,
    async open(options) {
      const s = await engine.open(options);
      // Delegation, not a spread: a session may be a class instance whose methods live on its prototype.
      return {
        inits: s.inits,
        run: (span) => (span.to > after ? Promise.reject(new Crash()) : s.run(span)),
        gradient: (points) => s.gradient(points), params: () => s.params(), state: () => s.state(), dispose: () => s.dispose(),
      };
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'smdd-resume-'));
const fast = await createFastEngine(2);
const gpu = await createGpuEngine(); // on this machine's WebGPU adapter (lavapipe in CI)
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await fast.close();
  await gpu.close();
});

describe.each([
  { name: 'reference', engine: referenceEngine as Engine },
  { name: 'fast', engine: fast as Engine },
  { name: 'gpu', engine: gpu as Engine },
])('resuming a $name training run from its checkpoint', ({ name, engine }) => {
  for (const run of runs()) {
    for (const crashAt of [45, 110]) { // after the first checkpoint; after the last
      it(`${run.id}: stopped after ${crashAt} steps, gives the bytes of an uninterrupted run`, async () => {
        const x = run.dataset ? generatePoints({ n: run.spec.n, sparsity: run.spec.sparsity }, run.T as number, Rng.fromLabel(`resume/${run.id}`)) : null;
        const test = generatePoints({ n: run.spec.n, sparsity: run.spec.sparsity }, 50, Rng.fromLabel('resume/test'));
        const straight = await trainRun(run, x, test, engine);
        const checkpoint = { file: join(dir, `${name}-${run.id}-${crashAt}.bin`), everySteps: 20, key: `k/${name}` };
        await expect(trainRun(run, x, test, crashing(engine, crashAt), () => {}, checkpoint)).rejects.toBeInstanceOf(Crash);
        expect(existsSync(checkpoint.file)).toBe(true);
        const resumed = await trainRun(run, x, test, engine, () => {}, checkpoint);
        expect(resumed.resumedFrom).not.toBeNull();
        expect(JSON.stringify(resumed.metrics)).toBe(JSON.stringify(straight.metrics));
        expect(resumed.snapshots.map((s) => [s.step, [...s.params.W], [...s.params.b]])).toEqual(straight.snapshots.map((s) => [s.step, [...s.params.W], [...s.params.b]]));
        expect(straight.snapshots).toHaveLength(4);
        expect(Buffer.from(resumed.params.W.buffer).equals(Buffer.from(straight.params.W.buffer))).toBe(true);
        expect(Buffer.from(resumed.params.b.buffer).equals(Buffer.from(straight.params.b.buffer))).toBe(true);
      });
    }
  }

  it('ignores a checkpoint written for another spec or engine', async () => {
    const run = runs()[0];
    const x = generatePoints({ n: run.spec.n, sparsity: run.spec.sparsity }, 12, Rng.fromLabel('resume/other'));
    const test = generatePoints({ n: run.spec.n, sparsity: run.spec.sparsity }, 50, Rng.fromLabel('resume/test'));
    const file = join(dir, `${name}-other.bin`);
    await expect(trainRun(run, x, test, crashing(engine, 50), () => {}, { file, everySteps: 20, key: 'old' })).rejects.toBeInstanceOf(Crash);
    const r = await trainRun(run, x, test, engine, () => {}, { file, everySteps: 20, key: 'new' });
    expect(r.resumedFrom).toBeNull();
  });
});
