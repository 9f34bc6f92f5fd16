import { afterAll, describe, expect, it } from 'vitest';
import { referenceEngine } from '../../pipeline/engines/reference.ts';
import { createFastEngine, chunkCount } from '../../pipeline/kernel/fast-engine.ts';
import { threadsForStep, type OptimiserSettings } from '../../pipeline/engines/engine.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';
import { Rng } from '../../pipeline/prng/rng.ts';
import type { Params } from '../../pipeline/model/toy-model.ts';
import type { SparsePoints } from '../../pipeline/data/points.ts';

/**
 * The fast engine at every hidden size the config allows (m in 1..64: the kernel's scratch grows
 * with m), and its threads: the same bits however many there are, also when a step has fewer
 * chunks than the engine has threads. Tolerances as in engines.test.ts.
 */
const OPT: OptimiserSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true };

/** Points at S = 0.8 and an init with some ReLUs on, some off, all drawn from `label`. */
function setup(n: number, m: number, T: number, label: string, sparsity = 0.8) {
  const stream = (part: string) => Rng.fromLabel(`fast-engine/${label}/${part}`);
  const init = xavierNormalInit(n, m, stream('W'));
  const rb = stream('b');
  init.b = init.b.map(() => (rb.uniform() - 0.5) * 0.2);
  return { init, x: generatePoints({ n, sparsity }, T, stream('x')) };
}

const largest = (...xs: Float64Array[]) => Math.max(...xs.map((a) => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0)));
const gap = (a: Float64Array, b: Float64Array) => largest(a.map((v, i) => v - b[i]));
const bytesOf = (p: Params) => Buffer.concat([p.W, p.b].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));

const fast = await createFastEngine(2);
afterAll(() => fast.close());

describe('the fast engine agrees with the reference for every m', () => {
  for (const m of [1, 3, 16, 17, 33, 64]) {
    it(`m = ${m}: loss, gradient, and parameters after 20 steps`, async () => {
      const { init, x } = setup(37, m, 21, `agree/${m}`);
      const ref = await referenceEngine.openStep(init, OPT);
      const s = await fast.openStep(init, OPT);
      try {
        const a = ref.gradient(x), b = s.gradient(x);
        expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-5);
        const scale = largest(a.grad.W, a.grad.b);
        expect(gap(a.grad.W, b.grad.W)).toBeLessThan(1e-4 * scale);
        expect(gap(a.grad.b, b.grad.b)).toBeLessThan(1e-4 * scale);
        for (let step = 0; step < 20; step++) {
          const la = ref.step(x, 1e-2), lb = s.step(x, 1e-2);
          expect(Math.abs(la - lb) / la, `loss at step ${step}`).toBeLessThan(1e-3);
        }
        const pa = ref.params(), pb = s.params();
        expect(gap(pa.W, pb.W)).toBeLessThan(2e-3);
        expect(gap(pa.b, pb.b)).toBeLessThan(2e-3);
      } finally {
        await s.dispose();
      }
    });
  }
});

/** Loss and gradient of the fast session `s` and of the reference at the same parameters. */
async function expectSameGradient(s: { params(): Params; gradient(x: SparsePoints): { loss: number; grad: Params } }, x: SparsePoints) {
  const ref = await referenceEngine.openStep(s.params(), OPT);
  const a = ref.gradient(x), b = s.gradient(x);
  expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-5);
  const scale = largest(a.grad.W, a.grad.b);
  expect(gap(a.grad.W, b.grad.W)).toBeLessThan(1e-4 * scale);
  expect(gap(a.grad.b, b.grad.b)).toBeLessThan(1e-4 * scale);
}

/**
 * The blocked dense pass (every m but 2, assembly/kernel.ts denseBlocked) in each of its
 * shapes: m = 4 (one loop of four rows with ReLU), 5 (four rows, then one), 7 (four, two,
 * one), 8 (four, then four with ReLU); n not a multiple of 4 and more than one tile of
 * features; T even (every chunk whole pairs of points) and odd (a chunk's last point alone);
 * the step split over two threads. The gradient is checked at the start and again where 20
 * steps led (with ReLUs on and off as training left them); the parameters themselves are
 * not compared at this size: AdamW turns the last-bit differences of gradients near 0 into
 * steps of up to lr, so they drift apart by up to about 2e-3 (1.7e-3 seen at m = 5, T = 161,
 * with both gradients within a thousandth of their tolerance).
 */
describe('the blocked pass agrees with the reference, on two threads', () => {
  for (const m of [4, 5, 7, 8]) {
    for (const T of [160, 161]) {
      it(`m = ${m}, T = ${T}: loss and gradient, before and after 20 steps; the step losses`, async () => {
        const { init, x } = setup(1001, m, T, `blocked/${m}/${T}`);
        expect(threadsForStep(2, x.count * x.n)).toBe(2);
        const ref = await referenceEngine.openStep(init, OPT);
        const s = await fast.openStep(init, OPT);
        try {
          await expectSameGradient(s, x);
          for (let step = 0; step < 20; step++) {
            const la = ref.step(x, 1e-2), lb = s.step(x, 1e-2);
            expect(Math.abs(la - lb) / la, `loss at step ${step}`).toBeLessThan(1e-3);
          }
          await expectSameGradient(s, x);
        } finally {
          await s.dispose();
        }
      });
    }
  }
});

/** Params and step losses after `steps` steps on an engine with `threads` threads. */
async function train(threads: number, init: Params, x: SparsePoints, steps: number) {
  const e = await createFastEngine(threads);
  try {
    const s = await e.openStep(init, OPT);
    const losses = Array.from({ length: steps }, () => s.step(x, 1e-2));
    const params = bytesOf(s.params());
    await s.dispose();
    return { params, losses };
  } finally {
    await e.close();
  }
}

describe('the fast engine gives the same bits on any number of threads', () => {
  for (const m of [4, 8, 33, 64]) {
    it(`m = ${m}, 1 and 2 threads`, async () => {
      const { init, x } = setup(1000, m, 200, `threads/${m}`);
      expect(threadsForStep(2, x.count * x.n)).toBe(2); // the step really is split
      const one = await train(1, init, x, 5), two = await train(2, init, x, 5);
      expect(two.params.equals(one.params)).toBe(true);
      expect(two.losses).toEqual(one.losses);
    });
  }

  it('with more threads than the step has chunks', async () => {
    const { init, x } = setup(4000, 2, 300, 'few-chunks', 0.9);
    expect(chunkCount(x.count)).toBe(5);
    expect(threadsForStep(8, x.count * x.n)).toBe(8);
    const one = await train(1, init, x, 5), eight = await train(8, init, x, 5);
    expect(eight.params.equals(one.params)).toBe(true);
    expect(eight.losses).toEqual(one.losses);
  });
});

describe('the blocked pass gives the same bits whether or not it sums the loss', () => {
  for (const m of [4, 8]) {
    it(`m = ${m}`, async () => {
      const { init, x } = setup(1001, m, 161, `loss/${m}`);
      const run = async (withLoss: boolean) => {
        const s = await fast.openStep(init, OPT);
        for (let i = 0; i < 10; i++) s.step(x, 1e-2, withLoss);
        const params = bytesOf(s.params());
        await s.dispose();
        return params;
      };
      expect((await run(false)).equals(await run(true))).toBe(true);
    });
  }
});

/**
 * The native span sessions (engine.open): every init of a run in one pass per step, the steps of
 * a span in one kernel call when a step takes one thread, the next online batch drawn while the
 * other threads compute. Each init's bits must be those of a session of its own stepped one
 * step at a time (openStep, the conformance tests' path), whatever the spans, the threads, the
 * loss steps or a resume from state().
 */
describe('span sessions: inits together, spans of any length', () => {
  const SCHEDULE = Float64Array.from({ length: 60 }, (_, s) => 1e-2 * Math.min(1, (s + 1) / 10));
  type Data = { kind: 'fixed'; points: SparsePoints } | { kind: 'online'; n: number; sparsity: number; batch: number; label: string };
  const spanData = (d: Data, stream: (number | null)[] | null) =>
    d.kind === 'fixed' ? { kind: 'fixed' as const, points: d.points } : { kind: 'online' as const, n: d.n, sparsity: d.sparsity, batch: d.batch, stream: stream! };

  /** Trains `inits` through engine.open over `cuts` (span boundaries), every 3rd step's loss, snapshots at `snaps`; optionally stops at `stopAt` and resumes from state(). */
  async function spans(engine: Awaited<ReturnType<typeof createFastEngine>>, inits: Params[], d: Data, cuts: number[], snaps: number[], stopAt?: number) {
    let stream = d.kind === 'online' ? Rng.fromLabel(d.label).state() : null;
    let s = await engine.open({ inits, opt: OPT, schedule: SCHEDULE });
    const losses: number[][] = inits.map(() => []), snapshots: Buffer[][] = inits.map(() => []);
    try {
      for (let j = 0; j + 1 < cuts.length; j++) {
        const from = cuts[j], to = cuts[j + 1];
        if (from === stopAt) {
          const saved = await s.state();
          await s.dispose();
          s = await engine.open({ inits, opt: OPT, schedule: SCHEDULE, resume: saved });
        }
        const lossSteps = Array.from({ length: to - from }, (_, i) => from + i).filter((x) => x % 3 === 0);
        const snapshotSteps = snaps.filter((x) => x >= from && (x < to || (x === to && j + 2 === cuts.length)));
        const r = await s.run({ from, to, data: spanData(d, stream), lossSteps, snapshotSteps });
        r.losses.forEach((l, i) => losses[i].push(...l));
        r.snapshots.forEach((ps, i) => snapshots[i].push(...ps.map(bytesOf)));
        stream = r.stream;
      }
      return { params: (await s.params()).map(bytesOf), losses, snapshots, stream };
    } finally {
      await s.dispose();
    }
  }

  /** Init `init` alone, stepped one step at a time through openStep: the reference bits. */
  async function stepped(engine: Awaited<ReturnType<typeof createFastEngine>>, init: Params, d: Data, steps: number, snaps: number[]) {
    const s = await engine.openStep(init, OPT);
    const rng = d.kind === 'online' ? Rng.fromLabel(d.label) : null;
    const losses: number[] = [], snapshots: Buffer[] = [];
    for (let step = 0; step < steps; step++) {
      if (snaps.includes(step)) snapshots.push(bytesOf(s.params()));
      const x = d.kind === 'fixed' ? d.points : generatePoints(d, d.batch, rng!);
      const l = s.step(x, SCHEDULE[step], step % 3 === 0);
      if (step % 3 === 0) losses.push(l);
    }
    if (snaps.includes(steps)) snapshots.push(bytesOf(s.params()));
    const params = bytesOf(s.params());
    await s.dispose();
    return { params, losses, snapshots, stream: rng?.state() ?? null };
  }

  const cases: { name: string; n: number; m: number; data: (label: string) => Data; threaded: boolean }[] = [
    { name: 'fixed T = 13, one thread', n: 200, m: 2, data: (l) => ({ kind: 'fixed', points: setup(200, 2, 13, l).x }), threaded: false },
    { name: 'fixed T = 200, split over threads', n: 1000, m: 2, data: (l) => ({ kind: 'fixed', points: setup(1000, 2, 200, l).x }), threaded: true },
    { name: 'fixed T = 161, m = 5, split over threads', n: 1001, m: 5, data: (l) => ({ kind: 'fixed', points: setup(1001, 5, 161, l).x }), threaded: true },
    { name: 'online batch 20, one thread', n: 100, m: 2, data: (l) => ({ kind: 'online', n: 100, sparsity: 0.8, batch: 20, label: l }), threaded: false },
    { name: 'online batch 150, split over threads', n: 1000, m: 3, data: (l) => ({ kind: 'online', n: 1000, sparsity: 0.9, batch: 150, label: l }), threaded: true },
  ];
  for (const c of cases) {
    it(`${c.name}: three inits together give each init's bits trained alone, for any spans, threads and resume`, async () => {
      const label = `spans/${c.name}`;
      const d = c.data(label);
      const batch = d.kind === 'fixed' ? d.points.count : d.batch;
      expect(threadsForStep(2, batch * c.n) > 1).toBe(c.threaded);
      const inits = [0, 1, 2].map((i) => setup(c.n, c.m, 1, `${label}/init${i}`).init);
      const snaps = [0, 7, 30, 40];
      const alone: Awaited<ReturnType<typeof stepped>>[] = [];
      for (const init of inits) alone.push(await stepped(fast, init, d, 40, snaps));
      const variants = [
        { threads: 2, cuts: [0, 40] },
        { threads: 2, cuts: [0, 1, 7, 8, 30, 33, 40] },
        { threads: 1, cuts: [0, 13, 40] },
        { threads: 8, cuts: [0, 20, 40] },
        { threads: 2, cuts: [0, 10, 25, 40], stopAt: 25 },
      ];
      for (const v of variants) {
        const engine = v.threads === 2 ? fast : await createFastEngine(v.threads);
        try {
          const got = await spans(engine, inits, d, v.cuts, snaps, v.stopAt);
          const what = `${v.threads} threads, spans ${v.cuts.join(',')}${v.stopAt ? `, resumed at ${v.stopAt}` : ''}`;
          inits.forEach((_, i) => {
            expect(got.params[i].equals(alone[i].params), `${what}: init ${i}'s parameters`).toBe(true);
            expect(got.losses[i], `${what}: init ${i}'s losses`).toEqual(alone[i].losses);
            expect(got.snapshots[i].length).toBe(snaps.length);
            got.snapshots[i].forEach((b, j) => expect(b.equals(alone[i].snapshots[j]), `${what}: init ${i}'s snapshot ${j}`).toBe(true));
          });
          expect(got.stream).toEqual(alone[0].stream);
        } finally {
          if (engine !== fast) await engine.close();
        }
      }
    }, 60_000);
  }
});

/**
 * The kernel's draw of online batches (assembly/kernel.ts drawPoints), called directly: the points
 * and the stream's state generatePoints gives, batch after batch, for gaps short and long, points
 * drawn again (S = 0.999 at n = 30 leaves most points empty) and n = 10,000; and -1, not a write past
 * the room, when a batch has more active features than the room it is given.
 */
describe('the kernel draws online batches as generatePoints does', async () => {
  const { KERNEL_WASM } = await import('../../pipeline/kernel/fast-engine.ts');
  const { drawTables } = await import('../../pipeline/data/gaps.ts');
  const { readFileSync } = await import('node:fs');
  const memory = new WebAssembly.Memory({ initial: 1024, maximum: 65536, shared: true });
  const { instance } = await WebAssembly.instantiate(readFileSync(KERNEL_WASM), { env: { memory, abort() { throw new Error('kernel abort'); } } });
  const drawPoints = instance.exports.drawPoints as (...a: number[]) => number;
  // [rng 16 | table 8n | buckets | pointVal 8n | rowPtr | col | val], from 64 KiB on
  function draw(n: number, sparsity: number, batch: number, rng: Rng, cap: number) {
    const { thresholds, buckets } = drawTables(n, sparsity);
    const at = { rng: 65536, table: 65536 + 16 } as Record<string, number>;
    at.buckets = at.table + 8 * n;
    at.pointVal = at.buckets + 4 * buckets.length;
    at.rowPtr = at.pointVal + 8 * n;
    at.col = at.rowPtr + 4 * (batch + 1);
    at.val = at.col + 4 * cap + 16; // a canary between
    new BigUint64Array(memory.buffer, at.table, n).set(thresholds);
    new Uint32Array(memory.buffer, at.buckets, buckets.length).set(buckets);
    const words = new Int32Array(memory.buffer, at.rng, 4);
    words.set(rng.state().slice(0, 4) as number[]);
    const canary = new Uint32Array(memory.buffer, at.col + 4 * cap, 1);
    canary[0] = 0xdeadbeef;
    const nnz = drawPoints(at.rng, at.table, at.buckets, n, batch, at.rowPtr, at.col, at.val, cap, at.pointVal);
    expect(canary[0], 'nothing written past the room').toBe(0xdeadbeef);
    if (nnz < 0) return null;
    return {
      rowPtr: Uint32Array.from(new Uint32Array(memory.buffer, at.rowPtr, batch + 1)),
      col: Uint32Array.from(new Uint32Array(memory.buffer, at.col, nnz)),
      val: Float32Array.from(new Float32Array(memory.buffer, at.val, nnz)),
      state: Array.from(words),
    };
  }
  for (const [n, S, batch] of [[1000, 0.99, 1000], [1000, 0.95, 300], [30, 0.999, 50], [200, 0.5, 7], [10000, 0.999, 100], [5, 0.3, 40]]) {
    it(`n = ${n}, S = ${S}, batches of ${batch}`, () => {
      const js = Rng.fromLabel(`kernel-draw/${n}/${S}`);
      let kernelState = Rng.fromLabel(`kernel-draw/${n}/${S}`);
      for (let b = 0; b < 3; b++) {
        const want = generatePoints({ n, sparsity: S }, batch, js);
        const got = draw(n, S, batch, kernelState, batch * n)!;
        expect(Buffer.from(got.rowPtr.buffer).equals(Buffer.from(want.rowPtr.buffer)), `rowPtr of batch ${b}`).toBe(true);
        expect(Buffer.from(got.col.buffer).equals(Buffer.from(want.col.buffer)), `col of batch ${b}`).toBe(true);
        expect(Buffer.from(got.val.buffer).equals(Buffer.from(want.val.buffer)), `val of batch ${b}`).toBe(true);
        expect(got.state).toEqual(js.state().slice(0, 4));
        kernelState = Rng.fromState([...got.state, null]);
      }
    });
  }
  it('returns -1 when the room is too small, and draws the batch with room', () => {
    const want = generatePoints({ n: 1000, sparsity: 0.99 }, 100, Rng.fromLabel('kernel-draw/room'));
    expect(draw(1000, 0.99, 100, Rng.fromLabel('kernel-draw/room'), want.col.length - 1)).toBeNull();
    expect(draw(1000, 0.99, 100, Rng.fromLabel('kernel-draw/room'), want.col.length)!.col.length).toBe(want.col.length);
  });
});
