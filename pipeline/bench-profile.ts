import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { RunPlan } from './config/plan.ts';
import { batchSize, isInfinite, sizeLabel, type DatasetSize } from './config/size.ts';
import { predictSeconds, runPairs, runShape, type ShapeRate } from './cost.ts';
import { generatePoints } from './data/generate.ts';
import type { Engine, SpanData } from './engines/engine.ts';
import { openEngine, runThreads } from './engines/registry.ts';
import { upperMedian } from './geometry/median.ts';
import { xavierNormalInit } from './model/init.ts';
import { learningRate } from './optim/schedule.ts';
import { Rng } from './prng/rng.ts';
import { streams } from './prng/streams.ts';

/**
 * The benchmark of a profile's real work (`npm run bench -- --profile post`, commands/bench.ts): each
 * distinct shape (T, n, m, S, inits) the profile trains, or the largest ones that hold 95% of its pairs,
 * trained through the engine's sessions and spans as training drives them (spans of up to 1,000 steps,
 * the loss every 100th step, the weights read after each span). It prints M pairs/s per shape, its share
 * of the best shape's per-pair rate (m-weighted: pairs x m/2 above m = 2, since a pair costs about m/2
 * times more there), and the profile's training time predicted from those rates. `--compare NAME=MODULE`
 * measures another engine module (one exporting createEngine(workers), e.g. an older fast-engine.ts) in
 * the same run, interleaved round by round.
 */
export interface Shape {
  T: DatasetSize;
  n: number;
  m: number;
  sparsity: number;
  inits: number;
  /** Points per step: T, or the online batch. */
  points: number;
  runs: RunPlan[];
  /** The training pairs of its runs. */
  pairs: number;
}

const shapeKey = (r: RunPlan) => [r.T, r.spec.n, r.m, r.spec.sparsity, r.spec.training.initsPerRun, batchSize(r.T, r.spec.training)].join('/');

/** The runs grouped by shape, the shape holding most pairs first. */
export function profileShapes(runs: RunPlan[]): Shape[] {
  const byKey = new Map<string, Shape>();
  for (const r of runs) {
    const k = shapeKey(r);
    const s = byKey.get(k) ?? {
      T: r.T, n: r.spec.n, m: r.m, sparsity: r.spec.sparsity, inits: r.spec.training.initsPerRun, points: batchSize(r.T, r.spec.training), runs: [], pairs: 0,
    };
    s.runs.push(r);
    s.pairs += runPairs(r);
    byKey.set(k, s);
  }
  return [...byKey.values()].sort((a, b) => b.pairs - a.pairs || a.m - b.m);
}

/** The fewest shapes, largest first, that hold `fraction` of the pairs. */
export function coverShapes(shapes: Shape[], fraction: number): Shape[] {
  const total = shapes.reduce((s, x) => s + x.pairs, 0);
  const out: Shape[] = [];
  let held = 0;
  for (const s of shapes) {
    if (held >= fraction * total) break;
    out.push(s);
    held += s.pairs;
  }
  return out;
}

/** (point, feature) pairs of one step, over every init. */
const stepPairs = (s: Shape) => s.points * s.n * s.inits;
/** The m-weighted rate: a pair at m > 2 costs about m/2 pairs at m = 2. */
const weighted = (s: Shape, pairsPerSecond: number) => pairsPerSecond * Math.max(1, s.m / 2);

const SPAN = 1000;
const LOSS_EVERY = 100;
/** Seconds of steps timed per shape and engine, after a warm-up span. */
const SECONDS = 1;

/** µs per step of `shape` on `engine`, driven as train-run.ts drives a run. */
export async function timeShape(engine: Engine, shape: Shape): Promise<number> {
  const { n, m, sparsity } = shape;
  const label = `shape/${sizeLabel(shape.T)}/${n}/${m}/${sparsity}`;
  const total = 50_000; // a schedule as long as post's; the timed steps lie past the warmup's start
  const schedule = Float64Array.from({ length: total }, (_, s) => learningRate(s, total, 2500, 1e-3));
  const inits = Array.from({ length: shape.inits }, (_, i) => xavierNormalInit(n, m, Rng.fromLabel(streams.bench(`${label}/init/${i}`))));
  const points = isInfinite(shape.T) ? null : generatePoints({ n, sparsity }, shape.T, Rng.fromLabel(streams.bench(`${label}/points`)));
  let stream = Rng.fromLabel(streams.bench(`${label}/online`)).state();
  const session = await engine.open({ inits, opt: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true }, schedule });
  let at = 0;
  const span = async (steps: number) => {
    const from = at, to = at + steps;
    const data: SpanData = points ? { kind: 'fixed', points } : { kind: 'online', n, sparsity, batch: shape.points, stream };
    const lossSteps: number[] = [];
    for (let s = Math.ceil(from / LOSS_EVERY) * LOSS_EVERY; s < to; s += LOSS_EVERY) lossSteps.push(s);
    const r = await session.run({ from, to, data, lossSteps, snapshotSteps: [] });
    await session.params(); // as training does after each span
    if (r.stream) stream = r.stream;
    at = to;
  };
  try {
    await span(10); // warm-up, and a first guess of the step's cost
    const t0 = performance.now();
    await span(10);
    const guess = (performance.now() - t0) / 10;
    const steps = Math.max(10, Math.min(total - 100, Math.round((SECONDS * 1000) / Math.max(guess, 1e-3))));
    const t1 = performance.now();
    for (let done = 0; done < steps; done += SPAN) await span(Math.min(SPAN, steps - done));
    return ((performance.now() - t1) * 1000) / steps;
  } finally {
    await session.dispose();
  }
}

export interface Contender {
  name: string;
  /** The engine with `threads` threads (opened once per count), and its name and version. */
  engine(threads: number): Promise<Engine>;
  id: { name: string; version: string };
  close(): Promise<void>;
}

/** A contender from a function that creates its engine for a number of threads. */
async function contender(name: string, create: (threads: number) => Promise<Engine>): Promise<Contender> {
  const opened = new Map<number, Engine>();
  const engine = async (threads: number) => {
    if (!opened.has(threads)) opened.set(threads, await create(threads));
    return opened.get(threads)!;
  };
  const first = await engine(1);
  return {
    name, engine, id: { name: first.name, version: first.version },
    close: async () => {
      for (const e of opened.values()) await e.close?.();
    },
  };
}

/** The profile's engine, and any `--compare NAME=MODULE` engines (modules exporting createEngine(threads)). */
export async function contenders(engineName: string, compare: string[]): Promise<Contender[]> {
  const out: Contender[] = [await contender(engineName, (t) => openEngine(engineName, t))];
  for (const spec of compare) {
    const at = spec.indexOf('=');
    const [name, path] = [spec.slice(0, at), spec.slice(at + 1)];
    const mod = (await import(pathToFileURL(resolve(path)).href)) as { createEngine(workers: number): Promise<Engine> };
    out.push(await contender(name, (t) => mod.createEngine(t)));
  }
  return out;
}

/** The threads a shape's runs train on in a build with `workers` (registry.ts runThreads): a shape is timed so. */
export const shapeThreads = (engineName: string, workers: number, s: Shape) => runThreads(engineName, workers, s.points * s.n);

/** µs per step of each measured shape on each contender, over the rounds (index: shape, then contender, then round). */
export type ShapeTimes = number[][][];

/** The measured shapes' medians on contender `c`, as rates.json holds them. */
export function shapeRates(measured: Shape[], times: ShapeTimes, c: number, threads: number[]): ShapeRate[] {
  return measured.map((s, i) => ({ ...runShape(s.runs[0]), threads: threads[i], usPerStep: upperMedian(times[i][c]) }));
}

/**
 * The table: per measured shape (in order of their pairs), the threads its runs train on in a build, then each
 * contender's µs per step, M pairs/s and share of that contender's best rate per core, m-weighted (a shape on
 * one thread trains beside another run, so a core's rate is what counts: pairs/s / threads, x m/2 above
 * m = 2); then each contender's predicted training time for the whole profile (cost.ts predictSeconds: a
 * shape not measured at the nearest measured one's rate).
 */
export function profileBenchTable(profile: string, all: Shape[], measured: Shape[], times: ShapeTimes, names: string[], threads: number[]): string {
  const us = measured.map((_, i) => names.map((__, c) => upperMedian(times[i][c])));
  const rate = (i: number, c: number) => stepPairs(measured[i]) / (us[i][c] / 1e6);
  const perCore = (i: number, c: number) => weighted(measured[i], rate(i, c)) / threads[i];
  const best = names.map((_, c) => Math.max(...measured.map((__, i) => perCore(i, c))));
  const totalPairs = all.reduce((s, x) => s + x.pairs, 0);
  const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`;
  const head = ['T', 'm', 'S', 'inits', 'runs', 'pairs', 'threads', ...names.flatMap((nm) => [`${nm}: µs/step`, `${nm}: M pairs/s`, `${nm}: of best`])];
  const lines = [
    '',
    `profile ${profile}: ${all.length} shapes, ${measured.length} measured (${pct(measured.reduce((s, x) => s + x.pairs, 0) / totalPairs)} of its ${totalPairs.toExponential(2)} pairs); ` +
      `medians over the rounds; each shape on the threads its runs get in a build; "of best": its rate per core, m-weighted (x m/2 above m = 2), against the best shape's`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < 4 ? '---' : '---:')).join('|')}|`,
  ];
  measured.forEach((s, i) => {
    const cells = names.flatMap((_, c) => [us[i][c].toFixed(0), (rate(i, c) / 1e6).toFixed(0), pct(perCore(i, c) / best[c])]);
    lines.push(`| ${sizeLabel(s.T)} | ${s.m} | ${s.sparsity} | ${s.inits} | ${s.runs.length} | ${pct(s.pairs / totalPairs)} | ${threads[i]} | ${cells.join(' | ')} |`);
  });
  lines.push('');
  const runs = all.flatMap((s) => s.runs);
  names.forEach((nm, c) => {
    const seconds = predictSeconds(runs, shapeRates(measured, times, c, threads));
    lines.push(`${nm}: predicted training time of ${profile}: ${(seconds / 60).toFixed(1)} min (${Math.round(seconds).toLocaleString('en-US')} s, one run at a time)`);
  });
  return lines.join('\n') + '\n';
}
