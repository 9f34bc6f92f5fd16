import { afterAll, describe, expect, it } from 'vitest';
import { createGpuEngine, hostCsc, HostBatches } from '../../pipeline/engines/gpu/engine.ts';
import { adapterDescription } from '../../pipeline/engines/gpu/device.ts';
import type { EngineSession, OptimiserSettings, SessionState, Span, SpanData } from '../../pipeline/engines/engine.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import type { SparsePoints } from '../../pipeline/data/points.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';
import { lossAndGradient, zerosLike, type Params } from '../../pipeline/model/toy-model.ts';
import { AdamWState, adamwUpdate, advance } from '../../pipeline/optim/adamw.ts';
import { learningRate } from '../../pipeline/optim/schedule.ts';
import { Rng } from '../../pipeline/prng/rng.ts';

/**
 * The gpu engine (WebGPU; lavapipe here) against the model's float64 definition, with the fast
 * engine's tolerances (tests/unit/engines.test.ts): loss 1e-5 relative and gradient 1e-4 of its
 * largest entry at the same parameters; after 200 scheduled steps loss 1e-3 relative and parameters
 * 2e-3 absolute. And its own promises: bit-for-bit the same run however the steps are cut into
 * spans, resumed from a state or repeated. No adapter is a failure here, not a skip.
 */
const OPT: OptimiserSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true };

const engine = await createGpuEngine();
afterAll(() => engine.close());

function model(n: number, m: number, label: string): Params {
  const init = xavierNormalInit(n, m, Rng.fromLabel(`${label}/W`));
  const r = Rng.fromLabel(`${label}/b`);
  for (let i = 0; i < n; i++) init.b[i] = (r.uniform() - 0.5) * 0.2; // some ReLUs on, some off
  return init;
}
const points = (n: number, T: number, label: string, sparsity = 0.8) => generatePoints({ n, sparsity }, T, Rng.fromLabel(`${label}/x`));

const maxAbs = (a: Float64Array) => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
const maxDiff = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => Math.max(s, Math.abs(v - b[i])), 0);
const bits = (ps: Params[]) => Buffer.concat(ps.flatMap((p) => [Buffer.from(new Float64Array(p.W).buffer), Buffer.from(new Float64Array(p.b).buffer)]));
const stateBits = (ss: SessionState[]) => Buffer.concat([bits(ss.map((s) => s.params)), ...ss.flatMap((s) => [Buffer.from(s.m.buffer), Buffer.from(s.v.buffer)])]);
const schedule = (steps: number, warmup = 20, peak = 1e-2) => Float64Array.from({ length: steps }, (_, s) => learningRate(s, steps, warmup, peak));
const fixed = (x: SparsePoints): SpanData => ({ kind: 'fixed', points: x });
const span = (from: number, to: number, data: SpanData, lossSteps: number[] = [], snapshotSteps: number[] = []): Span => ({ from, to, data, lossSteps, snapshotSteps });
const every = (from: number, to: number, k = 1) => Array.from({ length: Math.ceil((to - from) / k) }, (_, i) => from + i * k);

/** The float64 trainer the engines are held to: lossAndGradient then AdamW, step by step. */
function referenceRun(init: Params, sched: Float64Array, batchOf: (s: number) => SparsePoints, steps: number) {
  const p: Params = { ...init, W: init.W.slice(), b: init.b.slice() };
  const g = zerosLike(p);
  const st = new AdamWState(p.W.length + p.b.length);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    losses.push(lossAndGradient(p, batchOf(s), g));
    advance(st, OPT);
    adamwUpdate(p.W, g.W, st, 0, sched[s], OPT.weightDecay, OPT);
    adamwUpdate(p.b, g.b, st, p.W.length, sched[s], OPT.decayBias ? OPT.weightDecay : 0, OPT);
  }
  return { params: p, losses };
}

describe('the gpu engine conforms to the model', () => {
  // n = 37 and 600 are no multiple of any tile (512 features for m = 2); T = 3 is less than a block
  const cases = [[7, 1, 3], [37, 2, 3], [37, 2, 200], [64, 3, 500], [64, 5, 3], [45, 8, 60], [40, 16, 50], [23, 64, 12], [600, 2, 500]] as const;
  for (const [n, m, T] of cases) {
    it(`gives the loss and gradient of every init for n = ${n}, m = ${m}, T = ${T}`, async () => {
      const x = points(n, T, `conf/${n}/${m}/${T}`);
      const inits = [model(n, m, `conf/${n}/${m}/a`), model(n, m, `conf/${n}/${m}/b`)];
      const s = await engine.open({ inits, opt: OPT, schedule: schedule(1) });
      const out = await s.gradient(x);
      await s.dispose();
      inits.forEach((init, z) => {
        const g = zerosLike(init);
        const loss = lossAndGradient(init, x, g);
        expect(Math.abs(out[z].loss - loss) / loss).toBeLessThan(1e-5);
        const scale = Math.max(maxAbs(g.W), maxAbs(g.b));
        expect(maxDiff(g.W, out[z].grad.W)).toBeLessThan(1e-4 * scale);
        expect(maxDiff(g.b, out[z].grad.b)).toBeLessThan(1e-4 * scale);
      });
    });
  }

  it('follows the reference over 200 scheduled steps, three inits at once, with losses and snapshots where asked', async () => {
    const n = 50, m = 2, steps = 200;
    const x = points(n, 40, 'run');
    const inits = [0, 1, 2].map((i) => model(n, m, `run/${i}`));
    const sched = schedule(steps);
    const s = await engine.open({ inits, opt: OPT, schedule: sched });
    const lossSteps = every(0, steps, 10);
    const r = await s.run(span(0, steps, fixed(x), lossSteps, [0, 100, steps]));
    const end = await s.params();
    await s.dispose();
    inits.forEach((init, z) => {
      const ref = referenceRun(init, sched, () => x, steps);
      lossSteps.forEach((step, i) => expect(Math.abs(r.losses[z][i] - ref.losses[step]) / ref.losses[step], `init ${z} step ${step}`).toBeLessThan(1e-3));
      expect(maxDiff(ref.params.W, end[z].W)).toBeLessThan(2e-3);
      expect(maxDiff(ref.params.b, end[z].b)).toBeLessThan(2e-3);
      expect(bits([r.snapshots[z][0]]).equals(bits([init].map((p) => ({ ...p, W: Float64Array.from(Float32Array.from(p.W)), b: Float64Array.from(Float32Array.from(p.b)) }))))).toBe(true);
      expect(bits([r.snapshots[z][2]]).equals(bits([end[z]]))).toBe(true);
    });
    expect(r.stream).toBeNull();
  });

  it('follows the reference at m = 5 and T = 500 (n = 70) over 100 steps', async () => {
    const n = 70, m = 5, steps = 100;
    const x = points(n, 500, 'run5', 0.9);
    const init = model(n, m, 'run5');
    const sched = schedule(steps, 10);
    const s = await engine.open({ inits: [init], opt: OPT, schedule: sched });
    const r = await s.run(span(0, steps, fixed(x), [0, 50, 99]));
    const [end] = await s.params();
    await s.dispose();
    const ref = referenceRun(init, sched, () => x, steps);
    [0, 50, 99].forEach((step, i) => expect(Math.abs(r.losses[0][i] - ref.losses[step]) / ref.losses[step]).toBeLessThan(1e-3));
    expect(maxDiff(ref.params.W, end.W)).toBeLessThan(2e-3);
    expect(maxDiff(ref.params.b, end.b)).toBeLessThan(2e-3);
  });

  it('follows the reference with a fresh batch every step (T = infinity) and returns the stream after the span', async () => {
    const n = 30, m = 2, batch = 25, steps = 80;
    const inits = [model(n, m, 'online/a'), model(n, m, 'online/b')];
    const sched = Float64Array.from({ length: steps }, () => 5e-3);
    const stream = Rng.fromLabel('online/stream');
    const start = stream.state();
    const batches = Array.from({ length: steps }, () => generatePoints({ n, sparsity: 0.8 }, batch, stream));
    const s = await engine.open({ inits, opt: OPT, schedule: sched });
    const data: SpanData = { kind: 'online', n, sparsity: 0.8, batch, stream: start };
    const r = await s.run(span(0, steps, data, every(0, steps, 5)));
    const end = await s.params();
    await s.dispose();
    expect(r.stream).toEqual(stream.state());
    inits.forEach((init, z) => {
      const ref = referenceRun(init, sched, (i) => batches[i], steps);
      every(0, steps, 5).forEach((step, i) => expect(Math.abs(r.losses[z][i] - ref.losses[step]) / ref.losses[step]).toBeLessThan(1e-4));
      expect(maxDiff(ref.params.W, end[z].W)).toBeLessThan(1e-3);
      expect(maxDiff(ref.params.b, end[z].b)).toBeLessThan(1e-3);
    });
  });

  it('conforms when a step is cut into segments of points and the inits into groups', async () => {
    const small = await createGpuEngine({ maxSegmentPoints: 9, maxInitsPerGroup: 1 });
    try {
      const n = 41, m = 3, steps = 60;
      const x = points(n, 50, 'seg');
      const inits = [model(n, m, 'seg/a'), model(n, m, 'seg/b')];
      const sched = schedule(steps, 5);
      const s = await small.open({ inits, opt: OPT, schedule: sched });
      const grads = await s.gradient(x);
      const r = await s.run(span(0, steps, fixed(x), [0, steps - 1]));
      const end = await s.params();
      await s.dispose();
      inits.forEach((init, z) => {
        const g = zerosLike(init);
        const loss = lossAndGradient(init, x, g);
        expect(Math.abs(grads[z].loss - loss) / loss).toBeLessThan(1e-5);
        expect(maxDiff(g.W, grads[z].grad.W)).toBeLessThan(1e-4 * Math.max(maxAbs(g.W), maxAbs(g.b)));
        const ref = referenceRun(init, sched, () => x, steps);
        expect(Math.abs(r.losses[z][1] - ref.losses[steps - 1]) / ref.losses[steps - 1]).toBeLessThan(1e-3);
        expect(maxDiff(ref.params.W, end[z].W)).toBeLessThan(2e-3);
      });
    } finally {
      await small.close();
    }
  });
});

describe('the gpu engine is bitwise deterministic', () => {
  const n = 70, m = 3, steps = 150; // more steps than one command buffer holds (64)
  const x = points(n, 60, 'det');
  const inits = [model(n, m, 'det/a'), model(n, m, 'det/b')];
  const sched = schedule(steps);

  async function straight(lossSteps: number[] = every(0, steps, 3)) {
    const s = await engine.open({ inits, opt: OPT, schedule: sched });
    const r = await s.run(span(0, steps, fixed(x), lossSteps, [37, steps]));
    const st = await s.state();
    await s.dispose();
    return { r, st };
  }

  it('gives the same bits on a second run, and whether or not losses are computed', async () => {
    const a = await straight();
    const b = await straight();
    const c = await straight([]);
    expect(stateBits(b.st).equals(stateBits(a.st))).toBe(true);
    expect(b.r.losses).toEqual(a.r.losses);
    expect(stateBits(c.st).equals(stateBits(a.st))).toBe(true);
  });

  it('gives an init the same bits alone as with other inits', async () => {
    const a = await straight();
    const s = await engine.open({ inits: [inits[1]], opt: OPT, schedule: sched });
    const r = await s.run(span(0, steps, fixed(x), every(0, steps, 3)));
    const st = await s.state();
    await s.dispose();
    expect(stateBits(st).equals(stateBits([a.st[1]]))).toBe(true);
    expect(r.losses[0]).toEqual(a.r.losses[1]);
  });

  it('gives the same bits however the steps are cut into spans', async () => {
    const a = await straight();
    const s = await engine.open({ inits, opt: OPT, schedule: sched });
    const cuts = [0, 1, 37, 38, 100, 101, steps];
    const losses: number[][] = inits.map(() => []);
    let snap37: Params[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [from, to] = [cuts[i], cuts[i + 1]];
      const r = await s.run(span(from, to, fixed(x), every(0, steps, 3).filter((k) => k >= from && k < to), to === 37 ? [37] : []));
      r.losses.forEach((l, z) => losses[z].push(...l));
      if (to === 37) snap37 = r.snapshots.map((ss) => ss[0]);
    }
    const st = await s.state();
    await s.dispose();
    expect(stateBits(st).equals(stateBits(a.st))).toBe(true);
    expect(losses.map((l) => Float64Array.from(l))).toEqual(a.r.losses);
    expect(bits(snap37).equals(bits(a.r.snapshots.map((ss) => ss[0])))).toBe(true);
    expect(bits(a.r.snapshots.map((ss) => ss[1])).equals(bits(a.st.map((q) => q.params)))).toBe(true);
  });

  it('continues from a saved state exactly as if never stopped', async () => {
    const a = await straight();
    const s1 = await engine.open({ inits, opt: OPT, schedule: sched });
    await s1.run(span(0, 70, fixed(x)));
    const saved = await s1.state();
    await s1.dispose();
    expect(saved[0].t).toBe(70);
    const s2 = await engine.open({ inits, opt: OPT, schedule: sched, resume: saved });
    const r = await s2.run(span(70, steps, fixed(x), every(0, steps, 3).filter((k) => k >= 70)));
    const st = await s2.state();
    await s2.dispose();
    expect(stateBits(st).equals(stateBits(a.st))).toBe(true);
    expect(st[1].beta1Power).toBe(a.st[1].beta1Power);
    const tail = every(0, steps, 3).filter((k) => k >= 70).length;
    r.losses.forEach((l, z) => expect(l).toEqual(a.r.losses[z].slice(-tail)));
  });

  it('gives the same bits for online data in one span or several, and resumed from the stream', async () => {
    const data = (stream: (number | null)[]): SpanData => ({ kind: 'online', n, sparsity: 0.7, batch: 20, stream });
    const start = Rng.fromLabel('det/online').state();
    const s1 = await engine.open({ inits, opt: OPT, schedule: sched });
    const one = await s1.run(span(0, 90, data(start), [89]));
    const p1 = await s1.params();
    await s1.dispose();
    const s2 = await engine.open({ inits, opt: OPT, schedule: sched });
    const a = await s2.run(span(0, 33, data(start)));
    const b = await s2.run(span(33, 90, data(a.stream!), [89]));
    const p2 = await s2.params();
    await s2.dispose();
    expect(b.stream).toEqual(one.stream);
    expect(bits(p2).equals(bits(p1))).toBe(true);
    expect(b.losses).toEqual(one.losses);
  });

  it('draws online batches on the device (the default) to exactly the bits of batches drawn on the host', async () => {
    const host = await createGpuEngine({ onlineSource: (device, o) => new HostBatches(device, o.n, o.sparsity, o.batch, o.maxSteps) });
    try {
      const data: SpanData = { kind: 'online', n, sparsity: 0.9, batch: 30, stream: Rng.fromLabel('det/device-online').state() };
      const results = [];
      for (const e of [engine, host]) {
        const s = await e.open({ inits, opt: OPT, schedule: sched });
        const a = await s.run(span(0, 40, data, [0, 39]));
        const b = await s.run(span(40, 90, { ...data, stream: a.stream! }, [89]));
        results.push({ a, b, p: bits(await s.params()) });
        await s.dispose();
      }
      const [device, onHost] = results;
      expect(device.p.equals(onHost.p)).toBe(true);
      expect(device.a.losses).toEqual(onHost.a.losses);
      expect(device.b.stream).toEqual(onHost.b.stream);
      // and the stream ends where 90 batches drawn by generatePoints leave it
      const rng = Rng.fromState(data.stream);
      for (let i = 0; i < 90; i++) generatePoints({ n, sparsity: 0.9 }, 30, rng);
      expect(device.b.stream).toEqual(rng.state());
    } finally {
      await host.close();
    }
  });
});

describe('gpu engine details', () => {
  it('builds the CSC of a batch with the entries of each feature in point order', () => {
    const x = points(9, 6, 'csc', 0.5);
    const csc = hostCsc(x);
    const nnz = x.rowPtr[x.count];
    for (let j = 0; j < 9; j++) {
      const rows: number[] = [];
      for (let c = csc[j]; c < csc[j + 1]; c++) {
        expect(x.col[csc[10 + c]]).toBe(j);
        rows.push(csc[10 + nnz + c]);
      }
      expect(rows).toEqual([...rows].sort((p, q) => p - q));
    }
  });

  it('describes its adapter for cache keys', async () => {
    const d = await adapterDescription();
    expect(typeof d.vendor).toBe('string');
    expect(d.description.length + d.device.length).toBeGreaterThan(0);
  });

  it('refuses a span that does not start where the session is', async () => {
    const s: EngineSession = await engine.open({ inits: [model(10, 2, 'misc')], opt: OPT, schedule: schedule(10) });
    await expect(s.run(span(3, 5, fixed(points(10, 4, 'misc'))))).rejects.toThrow(/starts at step 3/);
    await s.dispose();
  });
});
