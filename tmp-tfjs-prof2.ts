import { loadTfjs } from './pipeline/train/tfjs-engine.ts';
const { tf } = await loadTfjs();
const T = 1000, n = 10000, m = 2;
const mask = tf.tidy(() => tf.cast(tf.less(tf.randomUniform([T, n]), 0.001), 'float32'));
const x = tf.tidy(() => tf.mul(tf.randomUniform([T, n]), mask)) as any;
const xT = tf.transpose(x) as any;
const W = tf.variable(tf.randomNormal([n, m], 0, 0.01)); const b = tf.variable(tf.randomNormal([n], 0, 0.01));
const variants: Record<string, () => any> = {
  A: () => { const h = tf.matMul(x, W); const z = tf.add(tf.matMul(h, W, false, true), b); const r = tf.sub(x, tf.relu(z)); return tf.div(tf.sum(tf.sum(tf.square(r), 1)), T); },
  Asq: () => { const h = tf.matMul(x, W); const z = tf.add(tf.matMul(h, W, false, true), b); return tf.div(tf.sum(tf.sum(tf.squaredDifference(x, tf.relu(z)), 1)), T); },
  Aflat: () => { const h = tf.matMul(x, W); const z = tf.add(tf.matMul(h, W, false, true), b); return tf.div(tf.sum(tf.squaredDifference(x, tf.relu(z))), T); },
  B: () => { const h = tf.matMul(x, W); const y = tf.fused.matMul({ a: h, b: W, transposeB: true, bias: b, activation: 'relu' }); return tf.div(tf.sum(tf.sum(tf.squaredDifference(x, y), 1)), T); },
  C: () => { const h = tf.matMul(x, W); const ha = tf.concat([h, tf.ones([T, 1])], 1); const Wb = tf.concat([W, tf.reshape(b, [n, 1])], 1); const z = tf.matMul(ha, Wb, false, true); return tf.div(tf.sum(tf.sum(tf.squaredDifference(x, tf.relu(z)), 1)), T); },
  D: () => { const hT = tf.matMul(W, xT, true, false); const zT = tf.add(tf.matMul(W, hT), tf.reshape(b, [n, 1])); return tf.div(tf.sum(tf.sum(tf.squaredDifference(xT, tf.relu(zT)), 1)), T); },
  DC: () => { const hT = tf.matMul(W, xT, true, false); const ha = tf.concat([hT, tf.ones([1, T])], 0); const Wb = tf.concat([W, tf.reshape(b, [n, 1])], 1); const zT = tf.matMul(Wb, ha); return tf.div(tf.sum(tf.sum(tf.squaredDifference(xT, tf.relu(zT)), 1)), T); },
  DB: () => { const hT = tf.matMul(W, xT, true, false); const y = tf.fused.matMul({ a: W, b: hT, bias: tf.reshape(b, [n, 1]), activation: 'relu' }); return tf.div(tf.sum(tf.sum(tf.squaredDifference(xT, y), 1)), T); },
};
const only = process.argv.slice(2);
for (const [name, f] of Object.entries(variants)) {
  if (only.length && !only.includes(name)) continue;
  const run = () => tf.tidy(() => { const r = tf.variableGrads(f, [W, b]); r.grads[W.name].dataSync(); r.grads[b.name].dataSync(); return r.value.dataSync()[0]; });
  let v = 0; for (let i = 0; i < 2; i++) v = run();
  const t0 = performance.now(); for (let i = 0; i < 5; i++) run(); const ms = (performance.now() - t0) / 5;
  console.log(name, ms.toFixed(1), 'ms', v, tf.memory().numTensors);
}
for (const name of ['A', 'DC', 'DB']) {
  const f = variants[name];
  for (let i = 0; i < 3; i++) tf.tidy(() => { tf.variableGrads(f, [W, b]).value.dataSync(); });
  const prof = await tf.profile(() => { const r = tf.variableGrads(f, [W, b]); r.value.dataSync(); return r.value; });
  let tot=0; console.log('==', name); for (const k of prof.kernels) { tot += k.kernelTimeMs as number; if ((k.kernelTimeMs as number) > 1) console.log(k.name, k.inputShapes.map(s=>JSON.stringify(s)).join(' '), (k.kernelTimeMs as number).toFixed(1)); } console.log('total', tot.toFixed(1));
}
