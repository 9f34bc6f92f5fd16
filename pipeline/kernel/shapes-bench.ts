/**
 * The fast engine on the shapes the `post` profile trains (n = 1,000, S = 0.99), through
 * engine.open + session.run with spans of up to 1,000 steps, as training drives it: µs per step
 * (all inits) and M pairs/s (pairs = batch x n x inits per step; `eff` weights them by m/2 above
 * m = 2). Compares engine modules interleaved, round after round, and prints medians.
 *
 *   npx tsx pipeline/kernel/shapes-bench.ts [--threads 2] [--rounds 3] [--only T3,Tinf]
 *     [--engine name=path/to/fast-engine.ts ...]   (default: this directory's engine, as "new")
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { generatePoints } from '../data/generate.ts';
import { xavierNormalInit } from '../model/init.ts';
import { Rng } from '../prng/rng.ts';
import { learningRate } from '../optim/schedule.ts';
import type { Engine, SpanData } from '../engines/engine.ts';

interface Shape {
  id: string;
  T: number; // Infinity: online, batch 1,000
  m: number;
  inits: number;
  steps: number;
}

const N = 1000, S = 0.99, BATCH = 1000, SPAN = 1000;
const SHAPES: Shape[] = [
  { id: 'T3', T: 3, m: 2, inits: 3, steps: 4000 },
  { id: 'T30', T: 30, m: 2, inits: 3, steps: 3000 },
  { id: 'T200', T: 200, m: 2, inits: 3, steps: 1000 },
  { id: 'T500', T: 500, m: 2, inits: 3, steps: 600 },
  { id: 'T2000', T: 2000, m: 2, inits: 3, steps: 200 },
  { id: 'T10000', T: 10000, m: 2, inits: 1, steps: 120 },
  { id: 'Tinf', T: Infinity, m: 2, inits: 1, steps: 400 },
  { id: 'T1000m4', T: 1000, m: 4, inits: 1, steps: 400 },
  { id: 'T1000m8', T: 1000, m: 8, inits: 1, steps: 250 },
];

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const threads = Number(opt('threads') ?? 2);
const rounds = Number(opt('rounds') ?? 3);
const only = opt('only')?.split(',');
const engineArgs = args.flatMap((a, i) => (a === '--engine' ? [args[i + 1]] : []));
const engineSpecs = engineArgs.length ? engineArgs.map((s) => s.split('=') as [string, string]) : [['new', fileURLToPath(new URL('./fast-engine.ts', import.meta.url))] as [string, string]];

const engines: { name: string; engine: Engine & { close?(): Promise<void> } }[] = [];
for (const [name, path] of engineSpecs) {
  const mod = await import(pathToFileURL(resolve(path)).href);
  engines.push({ name, engine: await mod.createEngine(threads) });
}

async function time(engine: Engine, shape: Shape): Promise<number> {
  const { T, m, inits: k, steps } = shape;
  const inits = Array.from({ length: k }, (_, i) => xavierNormalInit(N, m, Rng.fromLabel(`shapes/${shape.id}/init/${i}`)));
  // A schedule as long as post's, the bench trains its first steps past the warmup's start.
  const total = 50000;
  const schedule = Float64Array.from({ length: total }, (_, s) => learningRate(s, total, 2500, 1e-3));
  const points = Number.isFinite(T) ? generatePoints({ n: N, sparsity: S }, T, Rng.fromLabel(`shapes/${shape.id}/x`)) : null;
  let stream = Rng.fromLabel(`shapes/${shape.id}/online`).state();
  const session = await engine.open({ inits, opt: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true }, schedule });
  try {
    // warm-up span (not timed)
    const warm = 20;
    const run = async (from: number, to: number) => {
      const data: SpanData = points ? { kind: 'fixed', points } : { kind: 'online', n: N, sparsity: S, batch: BATCH, stream };
      const lossSteps = [];
      for (let s = Math.ceil(from / 100) * 100; s < to; s += 100) lossSteps.push(s);
      const r = await session.run({ from, to, data, lossSteps, snapshotSteps: [] });
      await session.params(); // as training does after each span
      if (r.stream) stream = r.stream;
    };
    await run(0, warm);
    const t0 = performance.now();
    for (let from = warm; from < warm + steps; from += SPAN) await run(from, Math.min(warm + steps, from + SPAN));
    return ((performance.now() - t0) * 1000) / steps; // µs per step
  } finally {
    await session.dispose();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const shapes = SHAPES.filter((s) => !only || only.includes(s.id));
const results = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  for (const shape of shapes) {
    for (const { name, engine } of engines) {
      const us = await time(engine, shape);
      const key = `${shape.id}/${name}`;
      results.set(key, [...(results.get(key) ?? []), us]);
      process.stderr.write(`round ${r} ${key}: ${us.toFixed(1)} µs/step\n`);
    }
  }
}

console.log(`threads ${threads}, rounds ${rounds}, medians; pairs = batch x n x inits per step; eff = M pairs/s x max(1, m/2)`);
console.log(['shape', 'inits', ...engines.flatMap(({ name }) => [`${name} µs/step`, `${name} Mpairs/s`, `${name} eff`]), ...(engines.length > 1 ? [`${engines.at(-1)!.name}/${engines[0].name} speed`] : [])].join('\t'));
for (const shape of shapes) {
  const pairs = (Number.isFinite(shape.T) ? shape.T : BATCH) * N * shape.inits;
  const cols: string[] = [shape.id, String(shape.inits)];
  const us = engines.map(({ name }) => median(results.get(`${shape.id}/${name}`)!));
  us.forEach((u) => cols.push(u.toFixed(1), (pairs / u).toFixed(0), ((pairs / u) * Math.max(1, shape.m / 2)).toFixed(0)));
  if (engines.length > 1) {
    // the median of the rounds' own ratios: each round measured both engines back to back
    const a = results.get(`${shape.id}/${engines[0].name}`)!, b = results.get(`${shape.id}/${engines.at(-1)!.name}`)!;
    cols.push(median(a.map((x, r) => x / b[r])).toFixed(2) + 'x');
  }
  console.log(cols.join('\t'));
}
for (const { engine } of engines) await engine.close?.();
