import { afterAll, describe, expect, it } from 'vitest';
import { referenceEngine } from '../../pipeline/engines/reference.ts';
import { createFastEngine } from '../../pipeline/kernel/fast-engine.ts';
import { createTfjsEngine } from '../../pipeline/engines/tfjs.ts';
import type { OptimiserSettings } from '../../pipeline/engines/engine.ts';
import type { StepEngine } from '../../pipeline/engines/stepwise.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';
import { learningRate } from '../../pipeline/optim/schedule.ts';
import { Rng } from '../../pipeline/prng/rng.ts';
import type { Params } from '../../pipeline/model/toy-model.ts';

/**
 * Conformance: every engine computes what the reference computes, up to float32 rounding.
 * Tolerances (float32 engines against the float64 reference):
 *   loss: 1e-5 relative; gradient: 1e-4 of the gradient's largest entry;
 *   after 200 scheduled steps: loss 1e-3 relative, parameters 2e-3 absolute.
 */
const OPT: OptimiserSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true };

function problem(n: number, m: number, T: number, label: string) {
  const x = generatePoints({ n, sparsity: 0.8 }, T, Rng.fromLabel(`${label}/x`));
  const init = xavierNormalInit(n, m, Rng.fromLabel(`${label}/W`));
  const r = Rng.fromLabel(`${label}/b`);
  for (let i = 0; i < n; i++) init.b[i] = (r.uniform() - 0.5) * 0.2; // some ReLUs on, some off
  return { x, init };
}

const maxAbs = (a: Float64Array) => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
const maxDiff = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => Math.max(s, Math.abs(v - b[i])), 0);
const bits = (p: Params) => Buffer.concat([Buffer.from(new Float64Array(p.W).buffer), Buffer.from(new Float64Array(p.b).buffer)]);

const engines: { name: string; engine: StepEngine }[] = [];
const fast2 = await createFastEngine(2);
engines.push({ name: 'fast (2 threads)', engine: fast2 });
engines.push({ name: 'TensorFlow.js', engine: await createTfjsEngine() });
afterAll(async () => {
  for (const e of engines) await e.engine.close?.();
});

describe.each(engines)('the $name engine conforms to the reference', ({ engine }) => {
  for (const [n, m, T] of [[7, 1, 3], [37, 2, 3], [37, 2, 200], [64, 5, 3], [64, 5, 200], [40, 16, 50]] as const) {
    it(`gives the reference loss and gradient for n = ${n}, m = ${m}, T = ${T}`, async () => {
      const { x, init } = problem(n, m, T, `conf/${n}/${m}/${T}`);
      const ref = await referenceEngine.openStep(init, OPT);
      const s = await engine.openStep(init, OPT);
      const a = ref.gradient(x), b = s.gradient(x);
      await s.dispose();
      expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-5);
      const scale = Math.max(maxAbs(a.grad.W), maxAbs(a.grad.b));
      expect(maxDiff(a.grad.W, b.grad.W)).toBeLessThan(1e-4 * scale);
      expect(maxDiff(a.grad.b, b.grad.b)).toBeLessThan(1e-4 * scale);
    });
  }

  it('follows the reference over 200 scheduled full-batch steps', async () => {
    const { x, init } = problem(50, 2, 40, 'conf/run');
    const ref = await referenceEngine.openStep(init, OPT);
    const s = await engine.openStep(init, OPT);
    for (let step = 0; step < 200; step++) {
      const lr = learningRate(step, 200, 20, 1e-2);
      const a = ref.step(x, lr), b = s.step(x, lr);
      expect(Math.abs(a - b) / a, `loss at step ${step}`).toBeLessThan(1e-3);
    }
    const pa = ref.params(), pb = s.params();
    await s.dispose();
    expect(maxDiff(pa.W, pb.W)).toBeLessThan(2e-3);
    expect(maxDiff(pa.b, pb.b)).toBeLessThan(2e-3);
  });

  it('follows the reference when every step has a fresh batch (T = infinity)', async () => {
    const { init } = problem(30, 2, 1, 'conf/online');
    const stream = Rng.fromLabel('conf/online/stream');
    const batches = Array.from({ length: 30 }, () => generatePoints({ n: 30, sparsity: 0.8 }, 25, stream));
    const ref = await referenceEngine.openStep(init, OPT);
    const s = await engine.openStep(init, OPT);
    for (const batch of batches) {
      const a = ref.step(batch, 5e-3), b = s.step(batch, 5e-3);
      expect(Math.abs(a - b) / a).toBeLessThan(1e-4);
    }
    const pa = ref.params(), pb = s.params();
    await s.dispose();
    expect(maxDiff(pa.W, pb.W)).toBeLessThan(1e-3);
  });

  it('continues from a saved state exactly as if never stopped', async () => {
    const { x, init } = problem(40, 2, 60, 'conf/resume');
    const s1 = await engine.openStep(init, OPT);
    for (let i = 0; i < 10; i++) s1.step(x, 1e-2);
    const saved = s1.state();
    for (let i = 0; i < 10; i++) s1.step(x, 1e-2);
    const straight = s1.params();
    await s1.dispose();
    const s2 = await engine.openStep(init, OPT, saved);
    for (let i = 0; i < 10; i++) s2.step(x, 1e-2);
    const resumed = s2.params();
    await s2.dispose();
    expect(bits(resumed).equals(bits(straight))).toBe(true);
  });
});

describe('the fast engine is bitwise deterministic', () => {
  it('gives the same bits with 1, 2 and 8 threads', async () => {
    // Large enough (T * n well above the parallel threshold) that the threads really split the chunks.
    const { x, init } = problem(1000, 2, 1000, 'det/threads');
    const results: Buffer[] = [];
    const losses: number[][] = [];
    for (const threads of [1, 2, 8]) {
      const e = await createFastEngine(threads);
      const s = await e.openStep(init, OPT);
      const l: number[] = [];
      for (let i = 0; i < 20; i++) l.push(s.step(x, 1e-2));
      results.push(bits(s.params()));
      losses.push(l);
      await s.dispose();
      await e.close();
    }
    expect(results[1].equals(results[0])).toBe(true);
    expect(results[2].equals(results[0])).toBe(true);
    expect(losses[1]).toEqual(losses[0]);
    expect(losses[2]).toEqual(losses[0]);
  });

  it('gives the same bits whether or not the loss is computed during a step', async () => {
    const { x, init } = problem(200, 2, 300, 'det/loss');
    const a = await fast2.openStep(init, OPT);
    for (let i = 0; i < 10; i++) a.step(x, 1e-2, true);
    const pa = bits(a.params());
    await a.dispose();
    const b = await fast2.openStep(init, OPT);
    for (let i = 0; i < 10; i++) b.step(x, 1e-2, false);
    const pb = bits(b.params());
    await b.dispose();
    expect(pb.equals(pa)).toBe(true);
  });
});
