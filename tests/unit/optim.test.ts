import { describe, expect, it } from 'vitest';
import { learningRate } from '../../pipeline/optim/schedule.ts';
import { AdamWState, adamwUpdate, advance, type AdamWHyper } from '../../pipeline/optim/adamw.ts';

describe('learningRate (linear warmup, then cosine decay to 0)', () => {
  const steps = 1000, warmup = 100, peak = 0.005;
  const lr = (s: number) => learningRate(s, steps, warmup, peak);

  it('starts at peak/warmup on step 0', () => {
    expect(lr(0)).toBeCloseTo(peak / warmup, 15);
  });

  it('reaches exactly the peak on step warmup-1', () => {
    expect(lr(warmup - 1)).toBe(peak);
  });

  it('increases strictly and linearly during warmup', () => {
    for (let s = 1; s < warmup; s++) {
      expect(lr(s)).toBeGreaterThan(lr(s - 1));
      expect(lr(s)).toBeCloseTo((peak * (s + 1)) / warmup, 15);
    }
  });

  it('is exactly 0 on the last step', () => {
    expect(lr(steps - 1)).toBe(0);
    expect(learningRate(49_999, 50_000, 2500, 0.001)).toBe(0);
  });

  it('never increases after warmup and stays within [0, peak]', () => {
    for (let s = warmup; s < steps; s++) {
      expect(lr(s)).toBeLessThanOrEqual(lr(s - 1));
      expect(lr(s)).toBeGreaterThanOrEqual(0);
      expect(lr(s)).toBeLessThanOrEqual(peak);
    }
  });

  it('is strictly below the peak right after warmup (the decay starts at once)', () => {
    expect(lr(warmup)).toBeLessThan(peak);
    expect(lr(warmup)).toBeGreaterThan(0.999 * peak);
  });

  it('is peak/2 halfway between step warmup-1 and the last step', () => {
    // warmup-1 = 99 and the last step 999: the cosine midpoint is step 549
    expect(lr(549)).toBeCloseTo(peak / 2, 15);
    // and follows peak * (1 + cos(pi * progress)) / 2 in between
    const progress = (300 - 99) / (999 - 99);
    expect(lr(300)).toBeCloseTo(peak * 0.5 * (1 + Math.cos(Math.PI * progress)), 15);
  });

  it('with warmup 0 starts at the peak and still ends at exactly 0', () => {
    expect(learningRate(0, 11, 0, 0.1)).toBe(0.1);
    expect(learningRate(5, 11, 0, 0.1)).toBeCloseTo(0.05, 15);
    expect(learningRate(10, 11, 0, 0.1)).toBe(0);
  });

  it('handles the shortest schedule the config allows (steps 2, warmup 1): peak then 0', () => {
    expect(learningRate(0, 2, 1, 0.3)).toBe(0.3);
    expect(learningRate(1, 2, 1, 0.3)).toBe(0);
  });
});

/** A scalar AdamW written from PyTorch's torch.optim.AdamW (single tensor, amsgrad=False). */
function torchAdamW(p0: number, grads: number[], lrs: number[], wd: number, h: AdamWHyper): number {
  let p = p0, m = 0, v = 0;
  for (let t = 1; t <= grads.length; t++) {
    const g = grads[t - 1];
    const lr = lrs[t - 1];
    p = p * (1 - lr * wd);
    m = h.beta1 * m + (1 - h.beta1) * g; // exp_avg.lerp_(grad, 1 - beta1)
    v = h.beta2 * v + (1 - h.beta2) * g * g;
    const bc1 = 1 - Math.pow(h.beta1, t);
    const bc2 = 1 - Math.pow(h.beta2, t);
    const stepSize = lr / bc1;
    const denom = Math.sqrt(v) / Math.sqrt(bc2) + h.eps;
    p = p - stepSize * (m / denom);
  }
  return p;
}

describe('AdamW (decoupled weight decay, PyTorch update order)', () => {
  const h: AdamWHyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

  it('moves each parameter on the first step from zero state by lr*g/(|g|+eps) after decaying it by lr*wd', () => {
    const p0 = [0.5, -1.25, 2, 0.01, -0.3];
    const g = [0.3, -2, 1e-3, -5e-6, 40];
    const lr = 0.01, wd = 0.1;
    const param = Float64Array.from(p0);
    const st = new AdamWState(p0.length);
    advance(st, h);
    adamwUpdate(param, Float64Array.from(g), st, 0, lr, wd, h);
    for (let i = 0; i < p0.length; i++) {
      const expected = p0[i] - lr * wd * p0[i] - (lr * Math.sign(g[i]) * Math.abs(g[i])) / (Math.abs(g[i]) + h.eps);
      expect(Math.abs(param[i] - expected)).toBeLessThan(1e-15);
    }
    // so a first step moves a parameter with a non-tiny gradient by about lr against the gradient,
    // whatever the gradient's scale (g = -2 and g = 40 alike)
    expect(Math.abs(param[1] - (p0[1] * (1 - lr * wd) + lr))).toBeLessThan(1e-8);
    expect(Math.abs(param[4] - (p0[4] * (1 - lr * wd) - lr))).toBeLessThan(1e-8);
  });

  it('leaves a parameter unchanged when both the gradient and the weight decay are 0', () => {
    const param = Float64Array.from([0.7, -3, 0]);
    const st = new AdamWState(3);
    for (let s = 0; s < 3; s++) {
      advance(st, h);
      adamwUpdate(param, new Float64Array(3), st, 0, 0.01, 0, h);
    }
    expect(Array.from(param)).toEqual([0.7, -3, 0]);
  });

  it('with gradient 0 but weight decay wd multiplies the parameter by (1 - lr*wd) each step', () => {
    const param = Float64Array.from([2]);
    const st = new AdamWState(1);
    advance(st, h);
    adamwUpdate(param, new Float64Array(1), st, 0, 0.1, 0.5, h);
    expect(param[0]).toBe(2 * (1 - 0.1 * 0.5));
  });

  it('matches a hand-written PyTorch-style scalar AdamW over 3 steps to 1e-12', () => {
    const p0 = [0.5, -1.25, 2, 0.01];
    const grads = [
      [0.3, -2, 1e-3, 4],
      [-0.1, -1.5, 2e-3, -4],
      [0.25, 0.5, -1e-3, 3],
    ];
    const lrs = [0.001, 0.002, 0.0015];
    const wd = 0.01;
    const param = Float64Array.from(p0);
    const st = new AdamWState(p0.length);
    for (let s = 0; s < 3; s++) {
      advance(st, h);
      adamwUpdate(param, Float64Array.from(grads[s]), st, 0, lrs[s], wd, h);
    }
    expect(st.t).toBe(3);
    for (let i = 0; i < p0.length; i++) {
      const ref = torchAdamW(p0[i], grads.map((g) => g[i]), lrs, wd, h);
      expect(Math.abs(param[i] - ref)).toBeLessThan(1e-12);
    }
  });

  it('keeps separate moments for slices at different offsets of one state', () => {
    // W and b share one state: updating a slice at offset k uses moments k.. only
    const st = new AdamWState(5);
    const a = Float64Array.from([1, 2]);
    const b = Float64Array.from([3, 4, 5]);
    const ga = [[0.5, -0.2], [0.1, 0.3]];
    const gb = [[-1, 2, 0.7], [0.4, -0.4, 0.1]];
    for (let s = 0; s < 2; s++) {
      advance(st, h);
      adamwUpdate(a, Float64Array.from(ga[s]), st, 0, 0.01, 0.1, h);
      adamwUpdate(b, Float64Array.from(gb[s]), st, 2, 0.01, 0.1, h);
    }
    const lrs = [0.01, 0.01];
    expect(Math.abs(a[0] - torchAdamW(1, [0.5, 0.1], lrs, 0.1, h))).toBeLessThan(1e-12);
    expect(Math.abs(a[1] - torchAdamW(2, [-0.2, 0.3], lrs, 0.1, h))).toBeLessThan(1e-12);
    expect(Math.abs(b[0] - torchAdamW(3, [-1, 0.4], lrs, 0.1, h))).toBeLessThan(1e-12);
    expect(Math.abs(b[2] - torchAdamW(5, [0.7, 0.1], lrs, 0.1, h))).toBeLessThan(1e-12);
  });

  it('advance counts steps and keeps beta1^t and beta2^t as running products', () => {
    const st = new AdamWState(1);
    for (let t = 1; t <= 5; t++) {
      advance(st, h);
      expect(st.t).toBe(t);
      expect(st.beta1Power).toBeCloseTo(Math.pow(h.beta1, t), 15);
      expect(st.beta2Power).toBeCloseTo(Math.pow(h.beta2, t), 15);
    }
  });
});
