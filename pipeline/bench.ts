import { resourceUsage } from 'node:process';
import { generatePoints } from './data/generate.ts';
import { xavierNormalInit } from './model/init.ts';
import { Rng } from './prng/rng.ts';
import { streams } from './prng/streams.ts';
import { openEngine, type EngineName } from './engines/registry.ts';
import { upperMedian } from './geometry/median.ts';

/**
 * The benchmark (`npm run bench`, commands/bench.ts): pairs per second of one full-batch training step
 * (forward, loss, gradient, AdamW) on the same problem for every engine: T = 1,000 unit-norm points,
 * n = 10,000, m = 2 (or another), S = 0.999. Each measurement runs in its own process (so peak memory is
 * its own), and the engines take turns for several rounds; the median counts. Ratios are to TensorFlow.js
 * measured in the same run.
 */
export const PROBLEM = { T: 1000, n: 10_000, sparsity: 0.999 };
const OPT = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true };

interface Case { id: string; label: string; engine: EngineName; threads: number; withLoss: boolean; seconds: number }
export const CASES: Case[] = [
  { id: 'reference', label: 'reference (TypeScript, float64)', engine: 'reference', threads: 1, withLoss: true, seconds: 3 },
  { id: 'tfjs', label: 'TensorFlow.js', engine: 'tfjs', threads: 1, withLoss: true, seconds: 3 },
  { id: 'fast-1', label: 'fast (wasm SIMD), 1 thread', engine: 'fast', threads: 1, withLoss: false, seconds: 2 },
  { id: 'fast-2', label: 'fast (wasm SIMD), 2 threads', engine: 'fast', threads: 2, withLoss: false, seconds: 2 },
  { id: 'fast-2-loss', label: 'fast, 2 threads, loss every step', engine: 'fast', threads: 2, withLoss: true, seconds: 2 },
];

/** Steps per span in the measurement: a training run's spans are longer (train/train-run.ts). */
const BENCH_SPAN = 4;

/** One measurement: a case at hidden size m, in this process. */
interface Measurement { id: string; version: string; pairsPerSecond: number; steps: number; peakRssMiB: number }

export async function measure(c: Case, m: number, T = PROBLEM.T): Promise<Measurement> {
  const { n, sparsity } = PROBLEM;
  const x = generatePoints({ n, sparsity }, T, Rng.fromLabel(streams.bench('points')));
  const engine = await openEngine(c.engine, c.threads);
  const schedule = new Float64Array(1 << 20).fill(1e-3);
  const session = await engine.open({ inits: [xavierNormalInit(n, m, Rng.fromLabel(streams.bench('init')))], opt: OPT, schedule });
  let at = 0;
  /** `k` steps as one span, with the loss of each when the case asks for it. */
  const span = async (k: number) => {
    const from = at;
    at += k;
    const lossSteps = c.withLoss ? Array.from({ length: k }, (_, i) => from + i) : [];
    await session.run({ from, to: at, data: { kind: 'fixed', points: x }, lossSteps, snapshotSteps: [] });
  };
  await span(3); // warm up (and let V8 tier up)
  let steps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < c.seconds * 1000 || steps < 3) {
    await span(BENCH_SPAN);
    steps += BENCH_SPAN;
  }
  const dt = (performance.now() - t0) / 1000;
  await session.dispose();
  await engine.close?.();
  return { id: c.id, version: engine.version, pairsPerSecond: (steps * T * n) / dt, steps, peakRssMiB: resourceUsage().maxRSS / 1024 };
}

/** A case's measurements over the rounds. */
export interface CaseResults { pps: number[]; rss: number[]; version: string }

/** The table of the cases measured (by id), medians over the rounds, and for m = 2 whether the fast engine meets its targets. */
export function benchTable(results: Map<string, CaseResults>, m: number): string {
  const base = results.get('tfjs');
  const tf = base ? upperMedian(base.pps) : NaN;
  const rows = CASES.filter((c) => results.has(c.id)).map((c) => {
    const e = results.get(c.id)!;
    const pps = upperMedian(e.pps);
    return { c, pps, ratio: pps / tf, rss: Math.max(...e.rss), version: e.version };
  });
  const lines = [
    '',
    `m = ${m}:`,
    '| engine | version | M pairs/s (median) | × TensorFlow.js | peak RSS (MiB) |',
    '|---|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.c.label} | ${r.version} | ${(r.pps / 1e6).toFixed(0)} | ${Number.isFinite(r.ratio) ? r.ratio.toFixed(1) : 'n/a'} | ${r.rss.toFixed(0)} |`),
    '',
  ];
  const fast2 = rows.find((r) => r.c.id === 'fast-2');
  if (fast2 && m === 2) {
    lines.push(`fast engine, 2 threads: ${(fast2.pps / 1e6).toFixed(0)} M pairs/s (target 2,000: ${fast2.pps >= 2e9 ? 'met' : 'NOT met'}), ` +
      `${fast2.ratio.toFixed(0)}x TensorFlow.js (target 75x: ${fast2.ratio >= 75 ? 'met' : 'NOT met'})`);
  }
  return lines.join('\n') + '\n';
}
