import { loadTfjs } from './pipeline/train/tfjs-engine.ts';
const { tf } = await loadTfjs();
const T = 1000, n = 10000, m = 2;
const x = tf.randomUniform([T, n]) as any; const W = tf.variable(tf.randomNormal([n, m], 0, 0.01)); const b = tf.variable(tf.randomNormal([n], 0, 0.01));
const f = () => { const h = tf.matMul(x, W); const z = tf.add(tf.matMul(h, W, false, true), b); const r = tf.sub(x, tf.relu(z)); return tf.div(tf.sum(tf.sum(tf.square(r), 1)), T) as any; };
for (let i=0;i<2;i++) tf.tidy(() => { tf.variableGrads(f, [W, b]).value.dataSync(); });
const prof = await tf.profile(() => { const r = tf.variableGrads(f, [W, b]); r.value.dataSync(); return r.value; });
const agg: Record<string, number> = {};
for (const k of prof.kernels) { agg[k.name] = (agg[k.name] ?? 0) + (k.kernelTimeMs as number); console.log(k.name, k.inputShapes.map(s=>JSON.stringify(s)).join(' '), (k.kernelTimeMs as number).toFixed(1)); }
console.log(agg);
