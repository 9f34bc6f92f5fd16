import { describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/prng/rng.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';
import { hiddenVector, loss, lossAndGradient, zerosLike, type Params } from '../../pipeline/model/toy-model.ts';
import type { SparsePoints } from '../../pipeline/data/points.ts';

function problem(n: number, m: number, count: number, label: string) {
  const x = generatePoints({ n, sparsity: 0.7 }, count, Rng.fromLabel(`${label}/data`));
  const p = xavierNormalInit(n, m, Rng.fromLabel(`${label}/init`));
  const rb = Rng.fromLabel(`${label}/bias`);
  for (let i = 0; i < n; i++) p.b[i] = -0.1 + 0.2 * rb.uniform();
  return { x, p };
}

/** Dense reference of the model's loss: x' = ReLU(W^T W x + b), mean over points of ||x - x'||^2. */
function denseLoss(p: Params, x: SparsePoints): number {
  const { n, m, W, b } = p;
  let total = 0;
  for (let t = 0; t < x.count; t++) {
    const xd = new Float64Array(n);
    for (let q = x.rowPtr[t]; q < x.rowPtr[t + 1]; q++) xd[x.col[q]] = x.val[q];
    const h = new Float64Array(m);
    for (let k = 0; k < m; k++) for (let i = 0; i < n; i++) h[k] += W[i * m + k] * xd[i];
    for (let i = 0; i < n; i++) {
      let z = b[i];
      for (let k = 0; k < m; k++) z += W[i * m + k] * h[k];
      const r = Math.max(z, 0) - xd[i];
      total += r * r;
    }
  }
  return total / x.count;
}

/** Counts of (point, feature) pairs with the ReLU on and off. */
function reluPattern(p: Params, x: SparsePoints) {
  let on = 0, off = 0, minAbsZ = Infinity;
  const h = new Float64Array(p.m);
  for (let t = 0; t < x.count; t++) {
    hiddenVector(p, x, t, h);
    for (let i = 0; i < p.n; i++) {
      let z = p.b[i];
      for (let k = 0; k < p.m; k++) z += p.W[i * p.m + k] * h[k];
      if (z > 0) on++; else off++;
      minAbsZ = Math.min(minAbsZ, Math.abs(z));
    }
  }
  return { on, off, minAbsZ };
}

describe('lossAndGradient (ReLU-output toy model with tied weights)', () => {
  const cases = [
    { m: 1, n: 7, count: 4 },
    { m: 2, n: 12, count: 5 },
    { m: 5, n: 20, count: 6 },
  ];

  for (const { m, n, count } of cases) {
    it(`has a gradient equal to central finite differences for m=${m}, n=${n}, ${count} points (relative error < 1e-5)`, () => {
      const { x, p } = problem(n, m, count, `fd/m=${m}`);
      const pattern = reluPattern(p, x);
      // The check exercises both branches of the ReLU and stays away from its kink.
      expect(pattern.on).toBeGreaterThan(0);
      expect(pattern.off).toBeGreaterThan(0);
      expect(pattern.minAbsZ).toBeGreaterThan(1e-4);

      const grad = zerosLike(p);
      lossAndGradient(p, x, grad);
      const h = 1e-6;
      const check = (arr: Float64Array, g: Float64Array, what: string) => {
        for (let i = 0; i < arr.length; i++) {
          const keep = arr[i];
          arr[i] = keep + h;
          const lp = lossAndGradient(p, x);
          arr[i] = keep - h;
          const lm = lossAndGradient(p, x);
          arr[i] = keep;
          const fd = (lp - lm) / (2 * h);
          const an = g[i];
          const mag = Math.max(Math.abs(fd), Math.abs(an));
          // Rounding in the loss differences is ~1e-10 absolute, so tiny entries are compared absolutely.
          if (mag > 1e-8) {
            const rel = Math.abs(fd - an) / mag;
            if (!(rel < 1e-5)) throw new Error(`${what}[${i}]: analytic ${an}, finite difference ${fd}, relative error ${rel}`);
          } else {
            expect(Math.abs(fd - an)).toBeLessThan(1e-9);
          }
        }
      };
      check(p.W, grad.W, 'W');
      check(p.b, grad.b, 'b');
      // the gradient is not trivially zero
      expect(Math.max(...grad.W.map(Math.abs))).toBeGreaterThan(1e-3);
      expect(Math.max(...grad.b.map(Math.abs))).toBeGreaterThan(1e-3);
    });
  }

  it('computes the same loss as a dense evaluation of ReLU(W^T W x + b)', () => {
    for (const m of [1, 2, 5]) {
      const { x, p } = problem(15, m, 8, `dense/m=${m}`);
      expect(Math.abs(lossAndGradient(p, x) - denseLoss(p, x))).toBeLessThan(1e-12);
    }
  });

  it('gives loss close to 1 (|L-1| < 1e-6) for the all-zero model on unit-norm points', () => {
    const x = generatePoints({ n: 50, sparsity: 0.8 }, 100, Rng.fromLabel('zero-model'));
    const p: Params = { n: 50, m: 3, W: new Float64Array(150), b: new Float64Array(50) };
    expect(Math.abs(lossAndGradient(p, x) - 1)).toBeLessThan(1e-6);
  });

  it('gives the all-zero model a zero gradient in W and b (every ReLU is off at z = 0)', () => {
    const x = generatePoints({ n: 50, sparsity: 0.8 }, 100, Rng.fromLabel('zero-model'));
    const p: Params = { n: 50, m: 3, W: new Float64Array(150), b: new Float64Array(50) };
    const grad = zerosLike(p);
    grad.W.fill(7);
    grad.b.fill(7);
    lossAndGradient(p, x, grad);
    expect(grad.W.every((v) => v === 0)).toBe(true);
    expect(grad.b.every((v) => v === 0)).toBe(true);
  });

  it('returns the same loss with or without a gradient argument', () => {
    const { x, p } = problem(20, 2, 10, 'with-without');
    const grad = zerosLike(p);
    expect(lossAndGradient(p, x, grad)).toBe(lossAndGradient(p, x));
    expect(loss(p, x)).toBe(lossAndGradient(p, x));
  });

  it('overwrites the gradient buffer rather than accumulating into it', () => {
    const { x, p } = problem(12, 2, 5, 'overwrite');
    const g1 = zerosLike(p);
    lossAndGradient(p, x, g1);
    const g2 = zerosLike(p);
    g2.W.fill(123);
    g2.b.fill(-4);
    lossAndGradient(p, x, g2);
    expect(g2.W).toEqual(g1.W);
    expect(g2.b).toEqual(g1.b);
  });

  it('is deterministic: repeated calls give bit-identical loss and gradient', () => {
    const { x, p } = problem(20, 5, 10, 'repeat');
    const g1 = zerosLike(p), g2 = zerosLike(p);
    const l1 = lossAndGradient(p, x, g1);
    const l2 = lossAndGradient(p, x, g2);
    expect(l2).toBe(l1);
    expect(g2.W).toEqual(g1.W);
    expect(g2.b).toEqual(g1.b);
  });

  it('does not modify the parameters', () => {
    const { x, p } = problem(12, 2, 5, 'no-mutation');
    const W = p.W.slice(), b = p.b.slice();
    lossAndGradient(p, x, zerosLike(p));
    expect(p.W).toEqual(W);
    expect(p.b).toEqual(b);
  });
});

describe('zerosLike', () => {
  it('returns zero arrays of the same shape that do not alias the original', () => {
    const p = xavierNormalInit(9, 3, Rng.fromLabel('zeros-like'));
    const z = zerosLike(p);
    expect(z.n).toBe(9);
    expect(z.m).toBe(3);
    expect(z.W.length).toBe(27);
    expect(z.b.length).toBe(9);
    expect(z.W.every((v) => v === 0) && z.b.every((v) => v === 0)).toBe(true);
    z.W[0] = 5;
    expect(p.W[0]).not.toBe(5);
  });
});

describe('xavierNormalInit', () => {
  it('draws W with standard deviation sqrt(2/(n+m)) and sets b to zero', () => {
    const n = 2000, m = 4;
    const p = xavierNormalInit(n, m, Rng.fromLabel('xavier'));
    let s = 0, s2 = 0;
    for (const w of p.W) { s += w; s2 += w * w; }
    const mean = s / p.W.length;
    const sd = Math.sqrt(s2 / p.W.length - mean * mean);
    expect(Math.abs(sd / Math.sqrt(2 / (n + m)) - 1)).toBeLessThan(0.03);
    expect(p.b.every((v) => v === 0)).toBe(true);
  });

  it('draws in the paper m-by-n order and stores feature-major (W[i*m+k] is the k-th normal of row k)', () => {
    const n = 5, m = 3;
    const p = xavierNormalInit(n, m, Rng.fromLabel('order'));
    const r = Rng.fromLabel('order');
    const std = Math.sqrt(2 / (n + m));
    for (let k = 0; k < m; k++) for (let i = 0; i < n; i++) expect(p.W[i * m + k]).toBe(std * r.normal());
  });
});
