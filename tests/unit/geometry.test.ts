import { describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/prng/rng.ts';
import { fractionalDimensionality } from '../../pipeline/geometry/dimensionality.ts';
import { norm, rowNorms } from '../../pipeline/geometry/norms.ts';
import { hiddenVectors } from '../../pipeline/geometry/hidden-vectors.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';

function polygon(T: number, radius: number, phase = 0.3): Float64Array {
  const v = new Float64Array(2 * T);
  for (let j = 0; j < T; j++) {
    v[2 * j] = radius * Math.cos(phase + (2 * Math.PI * j) / T);
    v[2 * j + 1] = radius * Math.sin(phase + (2 * Math.PI * j) / T);
  }
  return v;
}

/** D_i = ||v_i||^2 / sum_j (v_i_hat . v_j)^2, straight from the definition, O(count^2 m). */
function bruteForce(v: Float64Array, count: number, m: number): Float64Array {
  const D = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let sq = 0;
    for (let k = 0; k < m; k++) sq += v[i * m + k] ** 2;
    if (sq === 0) continue;
    const len = Math.sqrt(sq);
    let den = 0;
    for (let j = 0; j < count; j++) {
      let dot = 0;
      for (let k = 0; k < m; k++) dot += (v[i * m + k] / len) * v[j * m + k];
      den += dot * dot;
    }
    D[i] = sq / den;
  }
  return D;
}

describe('fractionalDimensionality', () => {
  for (const T of [3, 5, 8]) {
    for (const radius of [1, 0.01, 37]) {
      it(`a regular ${T}-gon of radius ${radius} in m=2 has dimensionality m/T = 2/${T} for every vertex`, () => {
        const D = fractionalDimensionality(polygon(T, radius), T, 2);
        expect(D.length).toBe(T);
        for (const d of D) expect(d).toBeCloseTo(2 / T, 12);
      });
    }
  }

  it('two orthogonal vectors have dimensionality 1 each, whatever their lengths', () => {
    const D = fractionalDimensionality(Float64Array.from([3, 0, 0, 0.5]), 2, 2);
    expect(D[0]).toBeCloseTo(1, 14);
    expect(D[1]).toBeCloseTo(1, 14);
  });

  it('two parallel vectors of equal length have dimensionality 1/2 each; antipodal ones too', () => {
    for (const d of fractionalDimensionality(Float64Array.from([1, 1, 1, 1]), 2, 2)) expect(d).toBeCloseTo(0.5, 14);
    for (const d of fractionalDimensionality(Float64Array.from([-2, 0, 2, 0]), 2, 2)) expect(d).toBeCloseTo(0.5, 14);
    // an antipodal pair plus an orthogonal vector: 1/2, 1/2, 1
    const D = fractionalDimensionality(Float64Array.from([-2, 0, 2, 0, 0, 0.1]), 3, 2);
    expect(Array.from(D).map((d) => Math.round(d * 1e12) / 1e12)).toEqual([0.5, 0.5, 1]);
  });

  it('a zero vector has dimensionality 0 and does not disturb the others', () => {
    const D = fractionalDimensionality(Float64Array.from([3, 0, 0, 0, 0, 0.5]), 3, 2);
    expect(D[0]).toBeCloseTo(1, 14);
    expect(D[1]).toBe(0);
    expect(D[2]).toBeCloseTo(1, 14);
  });

  it('an orthonormal basis of R^3 has dimensionality 1 for each vector', () => {
    const c = Math.cos(0.4), s = Math.sin(0.4); // a rotated basis, not the coordinate axes
    const basis = Float64Array.from([c, s, 0, -s, c, 0, 0, 0, 1]);
    const D = fractionalDimensionality(basis, 3, 3);
    for (const d of D) expect(d).toBeCloseTo(1, 14);
  });

  it('the dimensionalities of a full set of orthogonal directions sum to m (a 5-gon plus an orthogonal axis in m=3)', () => {
    const v = new Float64Array(6 * 3);
    const p = polygon(5, 2);
    for (let j = 0; j < 5; j++) { v[3 * j] = p[2 * j]; v[3 * j + 1] = p[2 * j + 1]; }
    v[15 + 2] = 0.7;
    const D = fractionalDimensionality(v, 6, 3);
    expect(D.reduce((a, b) => a + b, 0)).toBeCloseTo(3, 12);
    expect(D[5]).toBeCloseTo(1, 14);
  });

  it('is unchanged when every vector is scaled by the same factor', () => {
    const r = Rng.fromLabel('geometry/scale');
    const v = Float64Array.from({ length: 40 * 3 }, () => r.normal());
    const D1 = fractionalDimensionality(v, 40, 3);
    const D2 = fractionalDimensionality(v.map((x) => x * 1e3), 40, 3);
    for (let i = 0; i < 40; i++) expect(D2[i]).toBeCloseTo(D1[i], 12);
  });

  for (const m of [1, 2, 5]) {
    it(`agrees with the brute-force definition on random vectors in m=${m} (relative 1e-10)`, () => {
      const r = Rng.fromLabel(`geometry/random/m=${m}`);
      const count = 60;
      const v = Float64Array.from({ length: count * m }, () => r.normal() * (0.1 + r.uniform()));
      v.fill(0, 7 * m, 8 * m); // one zero vector among them
      const D = fractionalDimensionality(v, count, m);
      const ref = bruteForce(v, count, m);
      expect(D[7]).toBe(0);
      for (let i = 0; i < count; i++) expect(Math.abs(D[i] - ref[i])).toBeLessThanOrEqual(1e-10 * Math.max(1, ref[i]));
      // every dimensionality of a nonzero vector lies in (0, 1]
      for (let i = 0; i < count; i++) if (i !== 7) expect(D[i] > 0 && D[i] <= 1 + 1e-12).toBe(true);
    });
  }
});

describe('norm and rowNorms', () => {
  it('norm is the Euclidean (Frobenius) norm of a flat array', () => {
    expect(norm(Float64Array.from([3, 4]))).toBe(5);
    expect(norm(Float64Array.from([1, 2, 2, 4]))).toBe(5);
    expect(norm(new Float64Array(0))).toBe(0);
    expect(norm(Float64Array.from([-2]))).toBe(2);
  });

  it('rowNorms gives the norm of each row of a count-by-m row-major array', () => {
    const v = Float64Array.from([3, 4, 0, 0, 0, 0, 1, 2, 2]);
    expect(Array.from(rowNorms(v, 3, 3))).toEqual([5, 0, 3]);
    expect(Array.from(rowNorms(Float64Array.from([3, 4, -6, 8]), 2, 2))).toEqual([5, 10]);
  });

  it('the row norms combine to the Frobenius norm', () => {
    const r = Rng.fromLabel('norms');
    const v = Float64Array.from({ length: 30 }, () => r.normal());
    const rn = rowNorms(v, 10, 3);
    expect(Math.sqrt(rn.reduce((a, x) => a + x * x, 0))).toBeCloseTo(norm(v), 13);
  });
});

describe('hiddenVectors', () => {
  const n = 25, m = 3, count = 12;
  const x = generatePoints({ n, sparsity: 0.8 }, count, Rng.fromLabel('hidden/data'));
  const p = xavierNormalInit(n, m, Rng.fromLabel('hidden/init'));

  /** Dense h = W x with W as the m-by-n matrix W_{k,i} = p.W[i*m + k]. */
  function dense(t: number): number[] {
    const xd = new Array(n).fill(0);
    for (let q = x.rowPtr[t]; q < x.rowPtr[t + 1]; q++) xd[x.col[q]] = x.val[q];
    const h: number[] = [];
    for (let k = 0; k < m; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += p.W[i * m + k] * xd[i];
      h.push(s);
    }
    return h;
  }

  it('agrees with a dense W x computed by hand, as a count-by-m row-major array', () => {
    const H = hiddenVectors(p, x);
    expect(H.length).toBe(count * m);
    for (let t = 0; t < count; t++) {
      const h = dense(t);
      for (let k = 0; k < m; k++) expect(Math.abs(H[t * m + k] - h[k])).toBeLessThan(1e-12);
    }
  });

  it('returns only the first `limit` points, and all points when the limit exceeds the count', () => {
    const all = hiddenVectors(p, x);
    const first5 = hiddenVectors(p, x, 5);
    expect(first5.length).toBe(5 * m);
    expect(Array.from(first5)).toEqual(Array.from(all.subarray(0, 5 * m)));
    expect(hiddenVectors(p, x, 1000).length).toBe(count * m);
  });
});
