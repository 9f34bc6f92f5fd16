import { createFastEngine } from './pipeline/kernel/fast-engine.ts';
import { generatePoints } from './pipeline/data/generate.ts';
import { readWeights } from './pipeline/format/weights.ts';
import { readSparsePoints } from './pipeline/format/sparse.ts';
import { Rng } from './pipeline/prng/rng.ts';
const opt = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true };
// a trained model (post, T = 10000) on its own data: the realistic case
const w = readWeights('data/post/runs/T10000-m2-s0/weights.bin');
for (const T of [1000, 10000]) {
  const x = readSparsePoints(`data/post/datasets/T${T}-s0/points.bin`);
  for (const threads of [1, 2]) {
    const e = await createFastEngine(threads);
    const s = await e.open(w, opt);
    for (let i = 0; i < 50; i++) s.step(x, 1e-4, false);
    const steps = T === 1000 ? 3000 : 400;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) s.step(x, 1e-4, i % 100 === 0);
    const dt = (performance.now() - t0) / 1000;
    console.log('T', T, threads, 'threads', ((steps * T * 1000) / dt / 1e6).toFixed(0), 'M pairs/s');
    s.dispose(); await e.close();
  }
}
const r = Rng.fromLabel('g');
let t0 = performance.now();
for (let i = 0; i < 200; i++) generatePoints({ n: 1000, sparsity: 0.99 }, 1000, r);
console.log('generatePoints 1000x1000:', ((performance.now() - t0) / 200).toFixed(3), 'ms per batch');
