import { spawnSync } from 'node:child_process';
import { resourceUsage } from 'node:process';
import { parseArgs } from 'node:util';
import { generatePoints } from './data/generate.ts';
import { xavierNormalInit } from './model/init.ts';
import { Rng } from './prng/rng.ts';
import { streams } from './prng/streams.ts';
import { ENGINES, openEngine, type EngineName } from './engines/registry.ts';
import { runNx } from './nx/run.ts';

/**
 *   npm run bench [-- --m 4] [-- --rounds 3]
 * Pairs per second of one full-batch training step (forward, loss, gradient, AdamW) on the
 * same problem for every engine, in one run: T = 1,000 unit-norm points, n = 10,000, m = 2
 * (or --m), S = 0.999. What an engine loads besides its code (the fast engine's WebAssembly)
 * is built first, by the same Nx task as the pipeline's. Each measurement runs in its own
 * process (so peak memory is its own), and the engines take turns for several rounds; the
 * median counts. Ratios are to TensorFlow.js measured in the same run.
 */
const PROBLEM = { T: 1000, n: 10_000, sparsity: 0.999 };
const OPT = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true };

interface Case { id: string; label: string; engine: EngineName; threads: number; withLoss: boolean; seconds: number }
const CASES: Case[] = [
  { id: 'reference', label: 'reference (TypeScript, float64)', engine: 'reference', threads: 1, withLoss: true, seconds: 3 },
  { id: 'tfjs', label: 'TensorFlow.js', engine: 'tfjs', threads: 1, withLoss: true, seconds: 3 },
  { id: 'fast-1', label: 'fast (wasm SIMD), 1 thread', engine: 'fast', threads: 1, withLoss: false, seconds: 2 },
  { id: 'fast-2', label: 'fast (wasm SIMD), 2 threads', engine: 'fast', threads: 2, withLoss: false, seconds: 2 },
  { id: 'fast-2-loss', label: 'fast, 2 threads, loss every step', engine: 'fast', threads: 2, withLoss: true, seconds: 2 },
];

/** One measurement, in this process: prints a JSON line. */
async function measure(c: Case, m: number): Promise<void> {
  const { T, n, sparsity } = PROBLEM;
  const x = generatePoints({ n, sparsity }, T, Rng.fromLabel(streams.bench('points')));
  const engine = await openEngine(c.engine, c.threads);
  const session = await engine.open(xavierNormalInit(n, m, Rng.fromLabel(streams.bench('init'))), OPT);
  for (let i = 0; i < 3; i++) session.step(x, 1e-3, c.withLoss); // warm up (and let V8 tier up)
  let steps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < c.seconds * 1000 || steps < 3) {
    session.step(x, 1e-3, c.withLoss);
    steps++;
  }
  const dt = (performance.now() - t0) / 1000;
  await session.dispose();
  await engine.close?.();
  const out = { id: c.id, version: engine.version, pairsPerSecond: (steps * T * n) / dt, steps, peakRssMiB: resourceUsage().maxRSS / 1024 };
  process.stdout.write(JSON.stringify(out) + '\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function positiveInt(name: string, value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name}: expected a positive integer, found "${value}"`);
  return v;
}

async function main() {
  const { values } = parseArgs({ options: { m: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, case: { type: 'string' } } });
  const m = positiveInt('m', values.m);
  if (values.case) {
    const c = CASES.find((k) => k.id === values.case);
    if (!c) throw new Error(`--case: expected one of ${CASES.map((k) => k.id).join(', ')}, found "${values.case}"`);
    return measure(c, m);
  }
  const rounds = positiveInt('rounds', values.rounds);
  for (const task of new Set(CASES.map((c) => ENGINES[c.engine].builtBy).filter((t): t is string => !!t))) {
    process.stderr.write(`building ${task} (Nx; from the cache when nothing changed)\n`);
    const status = runNx(['run', task, '--outputStyle=stream'], 'pipe');
    if (status !== 0) throw new Error(`nx run ${task} failed (exit ${status}); the engines it builds for cannot be measured`);
  }
  const results = new Map<string, { pps: number[]; rss: number[]; version: string }>();
  process.stderr.write(`problem: T = ${PROBLEM.T}, n = ${PROBLEM.n}, m = ${m}, S = ${PROBLEM.sparsity}; ${rounds} rounds\n`);
  for (let r = 0; r < rounds; r++) {
    for (const c of CASES) {
      const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1], '--case', c.id, '--m', String(m)], { encoding: 'utf8' });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !line.startsWith('{')) {
        process.stderr.write(`round ${r + 1}: ${c.label} failed:\n${child.stderr}\n`);
        continue;
      }
      const o = JSON.parse(line);
      const e = results.get(c.id) ?? { pps: [] as number[], rss: [] as number[], version: String(o.version) };
      e.pps.push(o.pairsPerSecond);
      e.rss.push(o.peakRssMiB);
      results.set(c.id, e);
      process.stderr.write(`round ${r + 1}: ${c.label.padEnd(36)} ${(o.pairsPerSecond / 1e6).toFixed(0).padStart(6)} M pairs/s\n`);
    }
  }
  const base = results.get('tfjs');
  const tf = base ? median(base.pps) : NaN;
  const rows = CASES.filter((c) => results.has(c.id)).map((c) => {
    const e = results.get(c.id)!;
    const pps = median(e.pps);
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
  process.stdout.write(lines.join('\n') + '\n');
  if (rows.length < CASES.length) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
