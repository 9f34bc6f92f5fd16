import { createTfjsEngine, loadTfjs } from './pipeline/train/tfjs-engine.ts';
import { referenceEngine } from './pipeline/train/reference-engine.ts';
import { generatePoints } from './pipeline/data/generate.ts';
import { xavierNormalInit } from './pipeline/model/init.ts';
import { Rng } from './pipeline/prng/rng.ts';
import { learningRate } from './pipeline/optim/schedule.ts';
const eng = await createTfjsEngine();
const { tf, notes } = await loadTfjs();
console.log(eng.name, eng.version, notes);
const opt = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true };
for (const [n, m, T] of [[7,1,3],[20,2,200],[40,5,200],[40,5,3]]) {
  const x = generatePoints({ n, sparsity: 0.7 }, T, Rng.fromLabel(`d${n}${m}${T}`));
  const p = xavierNormalInit(n, m, Rng.fromLabel(`i${n}${m}${T}`));
  const rb = Rng.fromLabel('b'); for (let i = 0; i < n; i++) p.b[i] = -0.1 + 0.2 * rb.uniform();
  p.W = p.W.map(Math.fround); p.b = p.b.map(Math.fround);
  const a = await eng.open(p, opt), r = referenceEngine.open(p, opt) as any;
  const la = a.loss(x), lr = r.loss(x);
  let maxd = 0, maxrel = 0;
  const steps = 200; const before = tf.memory().numTensors;
  let loA = 0, loR = 0, worst=0;
  for (let s = 0; s < steps; s++) {
    const l = learningRate(s, steps, 20, 1e-2);
    loA = a.step(x, l); loR = r.step(x, l);
    worst = Math.max(worst, Math.abs(loA-loR)/loR);
    if (s === 0) { const pa = a.params(), pr = r.params(); for (let i = 0; i < pa.W.length; i++) maxd = Math.max(maxd, Math.abs(pa.W[i]-pr.W[i])); for (let i = 0; i < n; i++) maxd = Math.max(maxd, Math.abs(pa.b[i]-pr.b[i])); }
  }
  const pa = a.params(), pr = r.params(); let d200 = 0; for (let i = 0; i < pa.W.length; i++) d200 = Math.max(d200, Math.abs(pa.W[i]-pr.W[i]));
  for (let i = 0; i < n; i++) d200 = Math.max(d200, Math.abs(pa.b[i]-pr.b[i]));
  console.log({n,m,T, lossRel: Math.abs(la-lr)/lr, step1MaxAbs: maxd, finalA: a.loss(x), finalR: r.loss(x), worstStepLossRel: worst, d200, tensors: [before, tf.memory().numTensors]});
  await a.dispose();
}
console.log(tf.memory());
