import { describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/prng/rng.ts';
import { withRepeats, generatePoints } from '../../pipeline/data/generate.ts';
import { streams } from '../../pipeline/prng/streams.ts';
import type { SparsePoints } from '../../pipeline/data/points.ts';

function pointNorm(x: SparsePoints, t: number): number {
  let s = 0;
  for (let q = x.rowPtr[t]; q < x.rowPtr[t + 1]; q++) s += x.val[q] * x.val[q];
  return Math.sqrt(s);
}

/** The expected number of active features given at least one: n(1-S) / (1 - S^n). */
const expectedActive = (n: number, S: number) => (n * (1 - S)) / (1 - S ** n);

describe('generatePoints', () => {
  const dist = { n: 1000, sparsity: 0.99 };
  const count = 20_000;
  const x = generatePoints(dist, count, Rng.fromLabel('generate-test/main'));

  it('returns CSR arrays of the right types and shapes', () => {
    expect(x.n).toBe(1000);
    expect(x.count).toBe(count);
    expect(x.rowPtr).toBeInstanceOf(Uint32Array);
    expect(x.col).toBeInstanceOf(Uint32Array);
    expect(x.val).toBeInstanceOf(Float32Array);
    expect(x.rowPtr.length).toBe(count + 1);
    expect(x.rowPtr[0]).toBe(0);
    expect(x.rowPtr[count]).toBe(x.col.length);
    expect(x.val.length).toBe(x.col.length);
  });

  it('gives every point unit norm (within float32 rounding, 1e-6)', () => {
    let worst = 0;
    for (let t = 0; t < count; t++) worst = Math.max(worst, Math.abs(pointNorm(x, t) - 1));
    expect(worst).toBeLessThan(1e-6);
  });

  it('lists the columns of each point strictly ascending and below n', () => {
    let ok = true;
    for (let t = 0; t < count && ok; t++) {
      for (let q = x.rowPtr[t]; q < x.rowPtr[t + 1]; q++) {
        if (x.col[q] >= dist.n) ok = false;
        if (q > x.rowPtr[t] && x.col[q] <= x.col[q - 1]) ok = false;
      }
    }
    expect(ok).toBe(true);
  });

  it('has values in [0, 1]', () => {
    let min = Infinity, max = -Infinity;
    for (const v of x.val) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
  });

  it('never emits an empty point (rowPtr strictly increases)', () => {
    let empties = 0;
    for (let t = 0; t < count; t++) if (x.rowPtr[t + 1] <= x.rowPtr[t]) empties++;
    expect(empties).toBe(0);
  });

  it('has on average n(1-S)/(1-S^n) active features per point (n=1000, S=0.99: about 10, within 0.15)', () => {
    const mean = x.col.length / count;
    expect(Math.abs(mean - expectedActive(1000, 0.99))).toBeLessThan(0.15);
  });

  it('activates each feature with probability (1-S)/(1-S^n) (no feature favoured by the skipping)', () => {
    // 20,000 points * p = 0.01 gives 200 expected hits per feature; bucket into 10 blocks of 100
    // features (20,000 expected each, sd ~ 141) and check every block within 5%.
    const blocks = new Array(10).fill(0);
    for (const c of x.col) blocks[Math.floor(c / 100)]++;
    const expected = (count * 100 * (1 - 0.99)) / (1 - 0.99 ** 1000);
    for (const b of blocks) expect(Math.abs(b / expected - 1)).toBeLessThan(0.05);
  });

  it('gives identical arrays for the same rng label', () => {
    const a = generatePoints({ n: 300, sparsity: 0.9 }, 500, Rng.fromLabel('same'));
    const b = generatePoints({ n: 300, sparsity: 0.9 }, 500, Rng.fromLabel('same'));
    expect(b.rowPtr).toEqual(a.rowPtr);
    expect(b.col).toEqual(a.col);
    expect(b.val).toEqual(a.val);
  });

  it('gives different points for different rng labels', () => {
    const a = generatePoints({ n: 300, sparsity: 0.9 }, 50, Rng.fromLabel('one'));
    const b = generatePoints({ n: 300, sparsity: 0.9 }, 50, Rng.fromLabel('two'));
    expect(Array.from(b.val)).not.toEqual(Array.from(a.val));
  });

  it('makes every feature active when the sparsity is 0', () => {
    const n = 17, c = 200;
    const d = generatePoints({ n, sparsity: 0 }, c, Rng.fromLabel('dense'));
    expect(d.col.length).toBe(n * c);
    for (let t = 0; t < c; t++) {
      expect(d.rowPtr[t + 1] - d.rowPtr[t]).toBe(n);
      expect(Array.from(d.col.subarray(d.rowPtr[t], d.rowPtr[t + 1]))).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(Math.abs(pointNorm(d, t) - 1)).toBeLessThan(1e-6);
    }
  });

  it('redraws empty points when n is tiny (n=3, S=0.9): no point is empty and the mean active count is n(1-S)/(1-S^n)', () => {
    // Without the redraw guard 72.9% of these points would be empty.
    const c = 20_000;
    const d = generatePoints({ n: 3, sparsity: 0.9 }, c, Rng.fromLabel('tiny'));
    for (let t = 0; t < c; t++) {
      if (!(d.rowPtr[t + 1] > d.rowPtr[t])) throw new Error(`point ${t} is empty`);
    }
    let worst = 0;
    for (let t = 0; t < c; t++) worst = Math.max(worst, Math.abs(pointNorm(d, t) - 1));
    expect(worst).toBeLessThan(1e-6);
    const mean = d.col.length / c; // ~1.107, sd of the mean ~ 0.0025
    expect(Math.abs(mean - expectedActive(3, 0.9))).toBeLessThan(0.02);
    expect(Math.max(...d.col)).toBeLessThan(3);
  });

  it('grows its buffers correctly when points are denser than the initial estimate', () => {
    // The initial capacity is ceil(1.2 * count * n * (1-S)) + 16 = 112 here, but the redraw
    // guarantees at least one active feature per point, so at least 2,000 entries are written.
    const many = generatePoints({ n: 40, sparsity: 0.999 }, 2000, Rng.fromLabel('grow-many'));
    // n(1-S) = 0.04 per point, but every point has at least one feature: 2000 nonzeros > capacity 112
    expect(many.col.length).toBeGreaterThanOrEqual(2000);
    let worst = 0;
    for (let t = 0; t < 2000; t++) worst = Math.max(worst, Math.abs(pointNorm(many, t) - 1));
    expect(worst).toBeLessThan(1e-6);
    // the same points, drawn one batch at a time from the same stream, match (no entry lost in a copy)
    const rng = Rng.fromLabel('grow-many');
    for (let t = 0; t < 50; t++) {
      const one = generatePoints({ n: 40, sparsity: 0.999 }, 1, rng);
      expect(Array.from(one.col)).toEqual(Array.from(many.col.subarray(many.rowPtr[t], many.rowPtr[t + 1])));
      expect(Array.from(one.val)).toEqual(Array.from(many.val.subarray(many.rowPtr[t], many.rowPtr[t + 1])));
    }
  });
});

describe('streams (the names of the random streams)', () => {
  const dist = { n: 1000, sparsity: 0.99 };

  it('gives different labels to the training set, test set, online and selection streams of the same numbers', () => {
    const online = streams.online(dist, 30, 0);
    const labels = [streams.trainingSet(dist, 30, 0), streams.testSet(dist, 30, 0), online, streams.selection(online)];
    expect(new Set(labels).size).toBe(4);
  });

  it('keeps the labels that every data set so far was drawn from (changing one changes every result)', () => {
    expect(streams.trainingSet(dist, 30, 0)).toBe('train/n=1000/S=0.99/T=30/seed=0');
    expect(streams.testSet(dist, 100000, 0)).toBe('test/n=1000/S=0.99/size=100000/seed=0');
    expect(streams.online(dist, 1000, 0)).toBe('online/n=1000/S=0.99/batch=1000/seed=0');
    expect(streams.selection('online/x')).toBe('online/x/selection');
    expect(streams.init(streams.inits(1000, 2, 0), 1)).toBe('init/n=1000/m=2/seed=0/init=1');
  });

  it('gives different labels for different seeds, sizes or distributions', () => {
    const a = streams.trainingSet(dist, 30, 0);
    expect(streams.trainingSet(dist, 30, 1)).not.toBe(a);
    expect(streams.trainingSet(dist, 50, 0)).not.toBe(a);
    expect(streams.trainingSet({ n: 200, sparsity: 0.99 }, 30, 0)).not.toBe(a);
    expect(streams.trainingSet({ n: 1000, sparsity: 0.95 }, 30, 0)).not.toBe(a);
    expect(streams.inits(1000, 2, 0)).not.toBe(streams.inits(1000, 4, 0));
  });
});

describe('withRepeats', () => {
  const row = (x: SparsePoints, t: number) => ({ col: [...x.col.subarray(x.rowPtr[t], x.rowPtr[t + 1])], val: [...x.val.subarray(x.rowPtr[t], x.rowPtr[t + 1])] });
  const plain = generatePoints({ n: 50, sparsity: 0.8 }, 20, Rng.fromLabel('repeats'));

  it('keeps the size, makes the last r - 1 points copies of the first, and leaves the others as drawn', () => {
    const x = withRepeats(plain, 5);
    expect(x.count).toBe(20);
    for (let t = 0; t < 16; t++) expect(row(x, t)).toEqual(row(plain, t));
    for (let t = 16; t < 20; t++) expect(row(x, t)).toEqual(row(plain, 0));
    expect(x.rowPtr[20]).toBe(x.col.length);
  });

  it('is the plain set for r = 1 and refuses more repeats than points', () => {
    expect(withRepeats(plain, 1)).toBe(plain);
    expect(() => withRepeats(plain, 21)).toThrow(/cannot repeat a point 21 times in a set of 20/);
  });
});
