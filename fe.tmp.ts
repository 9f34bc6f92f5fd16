import { createFastEngine } from './pipeline/kernel/fast-engine.ts';
import { generatePoints } from './pipeline/data/generate.ts';
import { xavierNormalInit } from './pipeline/model/init.ts';
import { Rng } from './pipeline/prng/rng.ts';
const opt = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true };
const n = 10000, m = 2, T = 1000;
const x = generatePoints({ n, sparsity: 0.999 }, T, Rng.fromLabel('bench'));
const init = xavierNormalInit(n, m, Rng.fromLabel('i'));
const res: any = {};
for (const threads of [1, 2, 8]) {
  const e = await createFastEngine(threads);
  const s = await e.open(init, opt);
  for (let i = 0; i < 20; i++) s.step(x, 1e-3);
  const steps = 300;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) s.step(x, 1e-3);
  const dt = (performance.now() - t0) / 1000;
  res[threads] = s.params().W.slice(0, 4);
  console.log(threads, 'threads:', ((steps * T * n) / dt / 1e6).toFixed(0), 'M pairs/s');
  s.dispose(); await e.close();
}
console.log(JSON.stringify(res[1]) === JSON.stringify(res[2]) && JSON.stringify(res[2]) === JSON.stringify(res[8]));
