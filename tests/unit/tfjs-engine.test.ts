import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTfjsEngine, loadTfjs, type LoadedTfjs } from '../../pipeline/engines/tfjs.ts';
import { referenceEngine } from '../../pipeline/engines/reference.ts';
import type { OptimiserSettings } from '../../pipeline/engines/engine.ts';
import type { StepEngine as Engine, StepSession as EngineSession, StepSession } from '../../pipeline/engines/stepwise.ts';
import type { SparsePoints } from '../../pipeline/data/points.ts';
import { hiddenVector, loss, type Params } from '../../pipeline/model/toy-model.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';
import { learningRate } from '../../pipeline/optim/schedule.ts';
import { Rng } from '../../pipeline/prng/rng.ts';

/*
 * The TF.js engine computes in float32, the reference in float64. Tolerances, each well
 * above what was observed on the wasm backend (in brackets) and far below any real error:
 *   loss at the same params                 1e-5 relative   [< 4e-7]
 *   gradient (autodiff vs hand-written)     1e-5 of its largest component
 *   params after one step (lr 1e-2)         1e-6 absolute   [< 6e-8]; a step moves them ~1e-2
 *   losses and params over 200 steps        1e-4 rel / abs  [< 1e-6]
 * Against itself (resume, chunk cache) the engine is deterministic: exact equality.
 */
const LOSS_REL = 1e-5;
const GRAD_REL = 1e-5;
const ONE_STEP_ABS = 1e-6;
const RUN_REL = 1e-4;
const RUN_ABS = 1e-4;

const opt: OptimiserSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true };

/** Sparse points, Xavier-normal W and small random b, all rounded to float32 so both engines start from the same params. */
function problem(n: number, m: number, T: number, label: string): { x: SparsePoints; p: Params } {
  const x = generatePoints({ n, sparsity: 0.7 }, T, Rng.fromLabel(`${label}/data`));
  const p = xavierNormalInit(n, m, Rng.fromLabel(`${label}/init`));
  const rb = Rng.fromLabel(`${label}/bias`);
  for (let i = 0; i < n; i++) p.b[i] = -0.1 + 0.2 * rb.uniform();
  return { x, p: { n, m, W: p.W.map(Math.fround), b: p.b.map(Math.fround) } };
}

/** Fraction of (point, feature) pairs whose ReLU is on. */
function reluOnFraction(p: Params, x: SparsePoints): number {
  const h = new Float64Array(p.m);
  let on = 0;
  for (let t = 0; t < x.count; t++) {
    hiddenVector(p, x, t, h);
    for (let i = 0; i < p.n; i++) {
      let z = p.b[i];
      for (let k = 0; k < p.m; k++) z += p.W[i * p.m + k] * h[k];
      if (z > 0) on++;
    }
  }
  return on / (x.count * p.n);
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
const paramsDiff = (a: Params, b: Params) => Math.max(maxAbsDiff(a.W, b.W), maxAbsDiff(a.b, b.b));

const CASES: [n: number, m: number, T: number][] = [
  [7, 1, 3],
  [7, 1, 200],
  [23, 2, 3],
  [23, 2, 200],
  [40, 5, 3],
  [40, 5, 200],
];

let engine: Engine;
let loaded: LoadedTfjs;

beforeAll(async () => {
  engine = await createTfjsEngine();
  loaded = await loadTfjs();
});

async function withSession<R>(e: Engine, p: Params, o: OptimiserSettings, use: (s: EngineSession) => R): Promise<R> {
  const s = await e.openStep(p, o);
  try {
    return use(s);
  } finally {
    await s.dispose();
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TFJS_NODE = '@tensorflow/tfjs-node';
const requireHere = createRequire(import.meta.url);
const resolves = (pkg: string) => {
  try {
    requireHere.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};

/** Whether tfjs-node imports and its 'tensorflow' backend starts, tried in a child process (so this one's TF.js is untouched). */
function tfjsNodeStarts(): boolean {
  const script = `const m = await import('${TFJS_NODE}'); const tf = m.default ?? m; console.log(await tf.setBackend('tensorflow'));`;
  try {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
    return out.trim().split('\n').at(-1) === 'true';
  } catch {
    return false;
  }
}

/**
 * The backend the engine must pick, found without it: 'tensorflow' when tfjs-node resolves,
 * the probe (which keys the training cache) calls it native and its backend starts; else
 * 'wasm' when its package resolves; else 'cpu'.
 */
function expectedBackend(): { backend: string; nodeResolves: boolean; probe: string } {
  const probe = execFileSync(process.execPath, ['pipeline/engines/tfjs-probe.mjs'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const nodeResolves = resolves(TFJS_NODE);
  const backend = nodeResolves && probe.endsWith(' native') && tfjsNodeStarts() ? 'tensorflow' : resolves('@tensorflow/tfjs-backend-wasm') ? 'wasm' : 'cpu';
  return { backend, nodeResolves, probe };
}

describe('tfjs engine: backend', () => {
  it("is named 'tfjs' with a version naming the TF.js release and the backend: 'tensorflow' when tfjs-node is usable, else 'wasm' (else 'cpu')", () => {
    const { backend, nodeResolves, probe } = expectedBackend();
    // the probe, which keys the training cache, sees tfjs-node as this test does
    expect(probe).toMatch(nodeResolves ? / (native|unbuilt)$/ : / absent$/);
    expect(engine.name).toBe('tfjs');
    expect(loaded.backend).toBe(backend);
    expect(loaded.tf.getBackend()).toBe(backend);
    // no silent fallback: whenever tfjs-node is not used, a note says why
    if (backend === 'tensorflow') expect(loaded.notes).toEqual([]);
    else expect(loaded.notes[0]).toMatch(/^@tensorflow\/tfjs-node (unavailable|loaded but)/);
    expect(engine.version).toBe(loaded.version);
    expect(engine.version).toBe(`tfjs-${requireHere('@tensorflow/tfjs/package.json').version}/${backend}`);
    expect(engine.version).toBe(`tfjs-${loaded.tf.version_core}/${backend}`);
    expect(engine.version).toMatch(/^tfjs-\d+\.\d+\.\d+\/(tensorflow|wasm|cpu)$/);
  }, 120_000);

  it('loads TF.js once: loadTfjs returns the same result every time', async () => {
    expect(await loadTfjs()).toBe(loaded);
    expect((await createTfjsEngine()).version).toBe(engine.version);
  });
});

describe('tfjs engine against the reference engine', () => {
  for (const [n, m, T] of CASES) {
    it(`(n=${n}, m=${m}, T=${T}) gives the loss at the same params to ${LOSS_REL} relative, with some ReLUs on and some off`, async () => {
      const { x, p } = problem(n, m, T, `tfjs/loss/${n}/${m}/${T}`);
      const on = reluOnFraction(p, x);
      expect(on).toBeGreaterThan(0.05);
      expect(on).toBeLessThan(0.95);
      const expected = loss(p, x);
      const got = await withSession(engine, p, opt, (s) => s.gradient(x).loss);
      expect(rel(got, expected)).toBeLessThan(LOSS_REL);
    });

    it(`(n=${n}, m=${m}, T=${T}) gives by autodiff the hand-written gradient to ${GRAD_REL} of its largest component`, async () => {
      const { x, p } = problem(n, m, T, `tfjs/grad/${n}/${m}/${T}`);
      const expected = (referenceEngine.openStep(p, opt) as StepSession).gradient(x);
      const got = await withSession(engine, p, opt, (s) => s.gradient(x));
      expect(rel(got.loss, expected.loss)).toBeLessThan(LOSS_REL);
      expect([got.grad.n, got.grad.m]).toEqual([n, m]);
      expect(got.grad.W).toBeInstanceOf(Float64Array);
      const scale = Math.max(...expected.grad.W.map(Math.abs), ...expected.grad.b.map(Math.abs));
      expect(scale).toBeGreaterThan(1e-3);
      expect(paramsDiff(got.grad, expected.grad)).toBeLessThan(GRAD_REL * scale);
    });

    it(`(n=${n}, m=${m}, T=${T}) after one step at the same lr has params within ${ONE_STEP_ABS} and moments within float32 rounding`, async () => {
      const { x, p } = problem(n, m, T, `tfjs/step/${n}/${m}/${T}`);
      const o = { ...opt, decayBias: n % 2 === 0 };
      const ref = referenceEngine.openStep(p, o) as StepSession;
      const lossRef = ref.step(x, 1e-2);
      const [lossGot, stateGot] = await withSession(engine, p, o, (s) => [s.step(x, 1e-2), s.state()] as const);
      const stateRef = ref.state();
      expect(rel(lossGot, lossRef)).toBeLessThan(LOSS_REL);
      // the step really moved the params (by about lr), and both engines moved them alike
      expect(paramsDiff(stateRef.params, p)).toBeGreaterThan(5e-3);
      expect(paramsDiff(stateGot.params, stateRef.params)).toBeLessThan(ONE_STEP_ABS);
      // moments relative to their scale (m ~ 0.1 g, v ~ 0.001 g^2)
      const scale = (a: Float64Array) => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
      expect(maxAbsDiff(stateGot.m, stateRef.m)).toBeLessThan(1e-5 * scale(stateRef.m));
      expect(maxAbsDiff(stateGot.v, stateRef.v)).toBeLessThan(1e-5 * scale(stateRef.v));
      expect(stateGot.m.length).toBe(n * m + n);
      expect([stateGot.t, stateGot.beta1Power, stateGot.beta2Power]).toEqual([stateRef.t, stateRef.beta1Power, stateRef.beta2Power]);
    });
  }

  it(`a 200-step run (lr warmup 20 to 1e-2, then cosine) gives every step's loss and the final params within ${RUN_REL}`, async () => {
    for (const [n, m, T] of [[7, 1, 200], [40, 5, 200], [23, 2, 3]] as const) {
      const { x, p } = problem(n, m, T, `tfjs/run/${n}/${m}/${T}`);
      const ref = referenceEngine.openStep(p, opt) as StepSession;
      const s = await engine.openStep(p, opt);
      let worst = 0;
      for (let k = 0; k < 200; k++) {
        const lr = learningRate(k, 200, 20, 1e-2);
        worst = Math.max(worst, rel(s.step(x, lr), ref.step(x, lr)));
      }
      expect(worst).toBeLessThan(RUN_REL);
      const end = loss(ref.params(), x);
      expect(end).toBeLessThan(0.9 * loss(p, x)); // it trained
      expect(rel(s.gradient(x).loss, end)).toBeLessThan(RUN_REL);
      expect(paramsDiff(s.params(), ref.params())).toBeLessThan(RUN_ABS);
      await s.dispose();
    }
  });

  it('in T = infinity mode (a fresh batch object every step) agrees step by step over 60 steps', async () => {
    const n = 30, m = 2, T = 50;
    const { p } = problem(n, m, 1, 'tfjs/online');
    const stream = Rng.fromLabel('tfjs/online/stream');
    const batches = Array.from({ length: 60 }, () => generatePoints({ n, sparsity: 0.8 }, T, stream));
    const ref = referenceEngine.openStep(p, opt) as StepSession;
    const { tf } = loaded;
    const base = tf.memory().numTensors;
    const s = await engine.openStep(p, opt);
    const tensorsAfterFirst: number[] = [];
    let worst = 0;
    for (let k = 0; k < batches.length; k++) {
      const lr = learningRate(k, batches.length, 10, 1e-2);
      worst = Math.max(worst, rel(s.step(batches[k], lr), ref.step(batches[k], lr)));
      tensorsAfterFirst.push(tf.memory().numTensors);
    }
    expect(worst).toBeLessThan(RUN_REL);
    expect(paramsDiff(s.params(), ref.params())).toBeLessThan(RUN_ABS);
    // each new batch replaces the cached one: W, b, 4 moments and one batch, every step
    expect(new Set(tensorsAfterFirst)).toEqual(new Set([base + 6 + 1]));
    await s.dispose();
  });

  it('applies weight decay to b only when decayBias is set, like the reference', async () => {
    const { x, p } = problem(12, 2, 20, 'tfjs/decay');
    const strong = { ...opt, weightDecay: 5 };
    const withDecay = await withSession(engine, p, { ...strong, decayBias: true }, (s) => (s.step(x, 1e-2), s.params()));
    const without = await withSession(engine, p, { ...strong, decayBias: false }, (s) => (s.step(x, 1e-2), s.params()));
    const refWith = referenceEngine.openStep(p, { ...strong, decayBias: true }) as StepSession;
    const refWithout = referenceEngine.openStep(p, { ...strong, decayBias: false }) as StepSession;
    refWith.step(x, 1e-2);
    refWithout.step(x, 1e-2);
    expect(maxAbsDiff(withDecay.W, without.W)).toBe(0); // W is decayed either way
    expect(maxAbsDiff(withDecay.b, without.b)).toBeGreaterThan(1e-5);
    expect(paramsDiff(withDecay, refWith.params())).toBeLessThan(ONE_STEP_ABS);
    expect(paramsDiff(without, refWithout.params())).toBeLessThan(ONE_STEP_ABS);
  });
});

describe('tfjs engine: sessions', () => {
  it('gradient() leaves the params and the optimiser state unchanged', async () => {
    const { x, p } = problem(20, 2, 40, 'tfjs/lossonly');
    await withSession(engine, p, opt, (s) => {
      s.step(x, 1e-2);
      const before = s.state();
      const g1 = s.gradient(x);
      const g2 = s.gradient(problem(20, 2, 7, 'tfjs/lossonly/other').x);
      expect(s.gradient(x)).toEqual(g1);
      expect(g2.loss).not.toBe(g1.loss);
      expect(s.state()).toEqual(before);
    });
  });

  it('gradient() and step(.., withLoss = false) give the same update as step() without touching the state; the latter returns NaN', async () => {
    const { x, p } = problem(20, 3, 50, 'tfjs/withloss');
    const a = await engine.openStep(p, opt);
    const b = await engine.openStep(p, opt);
    for (let k = 0; k < 5; k++) {
      const before = b.state();
      const g = b.gradient(x);
      expect(b.state()).toEqual(before);
      const la = a.step(x, 1e-2);
      expect(g.loss).toBe(la);
      expect(b.step(x, 1e-2, false)).toBeNaN();
      expect(b.state()).toEqual(a.state());
    }
    await a.dispose();
    await b.dispose();
  });

  it('close() disposes the sessions still open, and the engine opens no more', async () => {
    const { tf } = loaded;
    const { x, p } = problem(10, 2, 20, 'tfjs/close');
    const e = await createTfjsEngine();
    const base = tf.memory().numTensors;
    const s1 = await e.openStep(p, opt);
    const s2 = await e.openStep(p, opt);
    s1.step(x, 1e-3);
    await s2.dispose();
    expect(tf.memory().numTensors).toBeGreaterThan(base);
    await e.close!();
    expect(tf.memory().numTensors).toBe(base);
    expect(() => s1.gradient(x)).toThrow(/disposed/);
    expect(() => s1.params()).toThrow(/disposed/);
    expect(() => e.openStep(p, opt)).toThrow(/closed/);
  });

  it('params() and state() return float64 copies: W feature-major (n*m), b (n), moments W then b (n*m+n)', async () => {
    const { x, p } = problem(9, 3, 10, 'tfjs/copies');
    await withSession(engine, p, opt, (s) => {
      const q = s.params();
      expect(q.W).toBeInstanceOf(Float64Array);
      expect(q.b).toBeInstanceOf(Float64Array);
      expect([q.n, q.m, q.W.length, q.b.length]).toEqual([9, 3, 27, 9]);
      expect(q.W).toEqual(p.W); // float32 values survive exactly
      expect(q.b).toEqual(p.b);
      q.W[0] += 1; // a copy: the session is unaffected
      expect(s.params().W[0]).toBe(p.W[0]);
      s.step(x, 1e-3);
      const st = s.state();
      expect(st.m).toBeInstanceOf(Float64Array);
      expect(st.v).toBeInstanceOf(Float64Array);
      expect(st.m.length).toBe(9 * 3 + 9);
      expect(st.t).toBe(1);
      for (const a of [st.m, st.v, st.params.W, st.params.b]) for (const v of a) expect(Math.fround(v)).toBe(v);
    });
  });

  it('state() then open(..., resume) continues exactly as the uninterrupted session (same backend: bit-for-bit)', async () => {
    const { x, p } = problem(25, 2, 60, 'tfjs/resume');
    const lrs = Array.from({ length: 40 }, (_, k) => learningRate(k, 40, 5, 1e-2));
    const whole = await engine.openStep(p, opt);
    const lossesWhole = lrs.map((lr) => whole.step(x, lr));
    const first = await engine.openStep(p, opt);
    const lossesFirst = lrs.slice(0, 17).map((lr) => first.step(x, lr));
    const saved = first.state();
    await first.dispose();
    // a different init: the saved params must take precedence
    const other = problem(25, 2, 1, 'tfjs/resume/other').p;
    const second = await engine.openStep(other, opt, saved);
    expect(second.state()).toEqual(saved);
    const lossesSecond = lrs.slice(17).map((lr) => second.step(x, lr));
    expect([...lossesFirst, ...lossesSecond]).toEqual(lossesWhole);
    expect(second.state()).toEqual(whole.state());
    expect(second.params()).toEqual(whole.params());
    await second.dispose();
    await whole.dispose();
  });

  it('does not leak tensors over 100 steps (same batch, changing batches, gradient calls) and frees all on dispose', async () => {
    const { tf } = loaded;
    const { x, p } = problem(40, 2, 100, 'tfjs/leak');
    const other = problem(40, 2, 30, 'tfjs/leak/other').x;
    const base = tf.memory().numTensors;
    const s = await engine.openStep(p, opt);
    s.step(x, 1e-3);
    const afterFirst = tf.memory();
    expect(afterFirst.numTensors).toBe(base + 6 + 1); // W, b, 4 moments, the cached batch
    for (let k = 0; k < 100; k++) {
      s.step(k % 10 === 9 ? other : x, 1e-3);
      if (k % 25 === 0) s.gradient(x);
      if (k % 33 === 0) s.state();
    }
    s.step(x, 1e-3);
    expect(tf.memory().numTensors).toBe(afterFirst.numTensors);
    expect(tf.memory().numBytes).toBe(afterFirst.numBytes);
    await s.dispose();
    expect(tf.memory().numTensors).toBe(base);
    expect(() => s.step(x, 1e-3)).toThrow(/disposed/);
  });

  it('splits a large batch into chunks: same results as one tensor to float32 rounding, cached or rebuilt alike', async () => {
    const { tf } = loaded;
    const n = 40;
    const { x, p } = problem(n, 2, 200, 'tfjs/chunks');
    const chunked = await createTfjsEngine({ maxChunkElements: 64 * n }); // 64 + 64 + 64 + 8 points
    const rebuilt = await createTfjsEngine({ maxChunkElements: 64 * n, maxCachedElements: 0 });
    /** Trains 20 steps; `cached` is how many chunk tensors must stay on the backend. */
    const run = async (e: Engine, cached: number) => {
      const base = tf.memory().numTensors;
      const s = await e.openStep(p, opt);
      const losses = Array.from({ length: 20 }, (_, k) => s.step(x, learningRate(k, 20, 5, 1e-2)));
      expect(tf.memory().numTensors).toBe(base + 6 + cached); // W, b, 4 moments and the cached chunks
      s.step(x, 0);
      expect(tf.memory().numTensors).toBe(base + 6 + cached);
      const out = { losses, params: s.params(), gradient: s.gradient(x) };
      await s.dispose();
      return out;
    };
    const whole = await run(engine, 1);
    const a = await run(chunked, 4);
    const b = await run(rebuilt, 0);
    expect(b).toEqual(a); // the cache changes nothing
    for (let k = 0; k < whole.losses.length; k++) expect(rel(a.losses[k], whole.losses[k])).toBeLessThan(LOSS_REL);
    expect(rel(a.gradient.loss, whole.gradient.loss)).toBeLessThan(LOSS_REL);
    expect(paramsDiff(a.params, whole.params)).toBeLessThan(RUN_ABS);
  });

  it('rejects a batch with the wrong number of features and a resume state of the wrong size', async () => {
    const { p } = problem(10, 2, 1, 'tfjs/reject');
    const wrong = problem(11, 2, 5, 'tfjs/reject/x').x;
    await withSession(engine, p, opt, (s) => {
      expect(() => s.gradient(wrong)).toThrow(/features/);
      expect(() => s.step(wrong, 1e-2)).toThrow(/features/);
    });
    const st = (referenceEngine.openStep(problem(11, 2, 1, 'tfjs/reject/y').p, opt) as StepSession).state();
    expect(() => engine.openStep(p, opt, { ...st, params: p })).toThrow(/moments/);
  });
});
