import { loadTfjs } from './pipeline/train/tfjs-engine.ts';
const { tf } = await loadTfjs();
const T = 1000, n = 10000, m = 2;
const mask = tf.tidy(() => tf.cast(tf.less(tf.randomUniform([T, n]), 0.001), 'float32'));
const x = tf.tidy(() => tf.mul(tf.randomUniform([T, n]), mask)) as any;
const xT = tf.transpose(x) as any;
const W = tf.variable(tf.randomNormal([n, m], 0, 0.01)); const b = tf.variable(tf.randomNormal([n], 0, 0.01));
const variants: Record<string, () => any> = {
  A: () => { const h = tf.matMul(x, W); const z = tf.add(tf.matMul(h, W, false, true), b); return tf.div(tf.sum(tf.sum(tf.squaredDifference(x, tf.relu(z)), 1)), T); },
  D: () => { const hT = tf.matMul(W, xT, true, false); const zT = tf.add(tf.matMul(W, hT), tf.reshape(b, [n, 1])); return tf.div(tf.sum(tf.sum(tf.squaredDifference(xT, tf.relu(zT)), 1)), T); },
  DC: () => { const hT = tf.matMul(W, xT, true, false); const ha = tf.concat([hT, tf.ones([1, T])], 0); const Wb = tf.concat([W, tf.reshape(b, [n, 1])], 1); const zT = tf.matMul(Wb, ha); return tf.div(tf.sum(tf.sum(tf.squaredDifference(xT, tf.relu(zT)), 1)), T); },
  E: () => { const hT = tf.transpose(tf.matMul(x, W)); const zT = tf.add(tf.matMul(W, hT), tf.reshape(b, [n, 1])); return tf.div(tf.sum(tf.sum(tf.squaredDifference(xT, tf.relu(zT)), 1)), T); },
  D2: () => { const hT = tf.matMul(W, xT, true, false); const zT = tf.add(tf.matMul(W, hT), tf.reshape(b, [n, 1])); return tf.div(tf.sum(tf.square(tf.sub(xT, tf.relu(zT))), 1).sum(), T); },
};
const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(variants);
const times: Record<string, number[]> = {};
for (let rep = 0; rep < 6; rep++) for (const name of names) {
  const f = variants[name];
  const run = () => tf.tidy(() => { const r = tf.variableGrads(f, [W, b]); r.grads[W.name].dataSync(); r.grads[b.name].dataSync(); return r.value.dataSync()[0]; });
  if (rep === 0) { run(); run(); }
  const t0 = performance.now(); run(); (times[name] ??= []).push(performance.now() - t0);
}
for (const [k, v] of Object.entries(times)) { v.sort((a,b)=>a-b); console.log(k, 'median', v[Math.floor(v.length/2)].toFixed(1), 'min', v[0].toFixed(1)); }
