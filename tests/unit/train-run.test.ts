import { afterAll, describe, expect, it } from 'vitest';
import { parseExperiment } from '../../pipeline/config/load.ts';
import { planProfile } from '../../pipeline/config/plan.ts';
import { trainRun } from '../../pipeline/train/train-run.ts';
import { createFastEngine } from '../../pipeline/kernel/fast-engine.ts';
import { referenceEngine } from '../../pipeline/engines/reference.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import { loss } from '../../pipeline/model/toy-model.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';
import { Rng } from '../../pipeline/prng/rng.ts';
import { streams } from '../../pipeline/prng/streams.ts';
import { fixtureExperiment } from '../fixtures/experiment.ts';

/** Every loss a run reports or compares is the model's float64 loss of the final weights. */
const c = fixtureExperiment();
c.profiles.memorise = {
  extends: 'base', description: 'T = 3 memorised until the float32 loss by expansion cancels below zero',
  data: { features: 1000, sparsity: 0.99 },
  training: { steps: 10_000, warmupSteps: 100, initsPerRun: 2, lossCurvePoints: 1000, peakLearningRate: 0.01, weightDecay: 0, onlineBatchSize: 40 },
  datasetSizes: [3, 'infinity'], runOverrides: [],
};
const plan = planProfile('memorise', parseExperiment(c, 'experiment.json').profiles.memorise);
const dist = { n: 1000, sparsity: 0.99 };
const test = generatePoints(dist, 300, Rng.fromLabel('train-run/test'));
const fast = await createFastEngine(1);
afterAll(() => fast.close());

describe('the losses a training run reports', () => {
  const run = plan.runs.find((r) => r.T === 3)!;
  const x = generatePoints(dist, 3, Rng.fromLabel('train-run/x'));
  const result = trainRun(run, x, test, fast);

  it('are never negative, although the fast engine\'s float32 loss of the same run goes below zero', async () => {
    const { metrics } = await result;
    expect(Math.min(...metrics.lossCurve.map((p) => p.loss))).toBeLessThan(0); // the cancellation the float64 loss avoids
    expect(metrics.finalTrainLoss).toBeGreaterThanOrEqual(0);
    expect(metrics.testLoss).toBeGreaterThanOrEqual(0);
    for (const i of metrics.inits) expect(i.finalTrainLoss).toBeGreaterThanOrEqual(0);
  }, 30_000);

  it("equal the reference model's float64 loss of the final weights, on the training set and on the test set", async () => {
    const { metrics, params } = await result;
    expect(metrics.finalTrainLoss).toBe(loss(params, x));
    expect(metrics.testLoss).toBe(loss(params, test));
    const ref = await referenceEngine.openStep(params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decayBias: true });
    expect(metrics.finalTrainLoss).toBe(ref.gradient(x).loss);
  }, 30_000);

  it('keep the init with the lowest of those losses', async () => {
    const { metrics } = await result;
    const best = metrics.inits.reduce((a, b) => (b.finalTrainLoss < a.finalTrainLoss ? b : a));
    expect(metrics.inits.map((i) => i.init)).toEqual([0, 1]);
    expect(metrics.chosenInit).toBe(best.init);
    expect(metrics.finalTrainLoss).toBe(best.finalTrainLoss);
  }, 30_000);

  it('for T = infinity, measure the final training loss on a selection batch of its own stream, apart from the batches it trained on', async () => {
    const inf = plan.runs.find((r) => r.T === 'infinity')!;
    const short = { ...inf, spec: { ...inf.spec, training: { ...inf.spec.training, steps: 200, lossCurvePoints: 3 } } };
    const { metrics, params } = await trainRun(short, null, test, fast);
    const selection = generatePoints(dist, 40, Rng.fromLabel(streams.selection(inf.spec.onlineLabel!)));
    expect(metrics.finalTrainLoss).toBe(loss(params, selection));
    expect(metrics.finalTrainLoss).not.toBe(loss(params, generatePoints(dist, 40, Rng.fromLabel(inf.spec.onlineLabel!))));
  }, 30_000);
});

describe('weight snapshots', () => {
  const c2 = fixtureExperiment();
  c2.profiles.snap = {
    extends: 'child', description: 'snapshots', data: { features: 40, sparsity: 0.8 },
    training: { steps: 200, warmupSteps: 10, initsPerRun: 2, lossCurvePoints: 5, weightSnapshots: 5 }, datasetSizes: [12], runOverrides: [],
  };
  const run = planProfile('snap', parseExperiment(c2, 'experiment.json').profiles.snap).runs[0];
  const d = { n: 40, sparsity: 0.8 };
  const x = generatePoints(d, 12, Rng.fromLabel('snap/x'));
  const t = generatePoints(d, 50, Rng.fromLabel('snap/test'));

  it('keep the chosen init\'s weights at evenly spaced steps: its init first and its final weights last', async () => {
    const { snapshots, params, metrics } = await trainRun(run, x, t, referenceEngine);
    expect(snapshots.map((s) => s.step)).toEqual([0, 50, 100, 150, 200]);
    const init = xavierNormalInit(40, 2, Rng.fromLabel(streams.init(run.spec.initLabel, metrics.chosenInit)));
    expect([...snapshots[0].params.W]).toEqual([...init.W]);
    expect([...snapshots[4].params.W]).toEqual([...params.W]);
    expect([...snapshots[2].params.W]).not.toEqual([...params.W]);
  });

  it('are the same bytes on the fast engine with 1 and 2 threads, and none are kept when weightSnapshots is 0', async () => {
    const two = await createFastEngine(2);
    try {
      const [a, b] = [await trainRun(run, x, t, fast), await trainRun(run, x, t, two)];
      expect(a.snapshots.map((s) => Buffer.from(s.params.W.buffer).toString('hex'))).toEqual(b.snapshots.map((s) => Buffer.from(s.params.W.buffer).toString('hex')));
    } finally {
      await two.close?.();
    }
    const none = { ...run, spec: { ...run.spec, training: { ...run.spec.training, weightSnapshots: 0 } } };
    expect((await trainRun(none, x, t, referenceEngine)).snapshots).toEqual([]);
  });
});
