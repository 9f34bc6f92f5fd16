import { existsSync } from 'node:fs';
import type { RunPlan } from './config/plan.ts';
import { batchSize, isInfinite } from './config/size.ts';
import { readContract } from './contracts/read.ts';
import { FormatError } from './files/error.ts';
import { Timing } from './contracts/timing.ts';
import { Rates } from './contracts/rates.ts';
import { profileDataDir } from './config/layout.ts';

/**
 * What runs cost (`npm run cost`, commands/cost.ts; the shard split, scale/shards.ts): the (point, feature)
 * pairs a run's training touches (batch x n x steps x inits: one full-batch step touches every pair, the
 * output layer being dense), and the training seconds recorded in its timing.json where it is built.
 */

/** Pairs one run's training touches: every init, every step, the whole batch against every feature. */
export function runPairs(r: RunPlan): number {
  const t = r.spec.training;
  return batchSize(r.T, t) * r.spec.n * t.steps * t.initsPerRun;
}

/** A shape's measured speed, as rates.json holds it (contracts/rates.ts): T null for infinity. */
export type ShapeRate = Rates['shapes'][number];

/** The shape of a run, as rates.json names shapes (without the time). */
export function runShape(r: RunPlan): Omit<ShapeRate, 'usPerStep' | 'threads'> {
  const t = r.spec.training;
  return { T: isInfinite(r.T) ? null : r.T, n: r.spec.n, m: r.m, sparsity: r.spec.sparsity, inits: t.initsPerRun, points: batchSize(r.T, t) };
}

/** Pairs per second of a measured shape, over every init. */
const ratePerSecond = (s: ShapeRate) => (s.points * s.n * s.inits) / (s.usPerStep / 1e6);
/** Where a shape lies along T, for "nearest": log T, the online batch counted as ten times its size. */
const along = (s: Omit<ShapeRate, 'usPerStep' | 'threads'>) => Math.log(s.T ?? s.points * 10);

/**
 * Predicted training seconds of `runs`, one at a time, from measured shapes: a run's pairs at its own
 * shape's rate, or for a shape not measured, at the rate of the measured shape with the same m and S and
 * the nearest T (else the nearest T of any).
 */
export function predictSeconds(runs: RunPlan[], measured: ShapeRate[]): number {
  let seconds = 0;
  for (const r of runs) {
    const s = runShape(r);
    const same = measured.filter((x) => x.m === s.m && x.sparsity === s.sparsity && x.n === s.n);
    const pool = same.length ? same : measured;
    const exact = pool.find((x) => x.T === s.T && x.inits === s.inits && x.points === s.points);
    const near = exact ?? pool.reduce((a, b) => (Math.abs(along(b) - along(s)) < Math.abs(along(a) - along(s)) ? b : a));
    seconds += runPairs(r) / ratePerSecond(near);
  }
  return seconds;
}

/**
 * Where `npm run bench -- --profile` keeps the rates it measured for a profile on this machine with `workers`
 * threads per run: rates.json at the profile's own execution.workers, `profileWorkers` (what a build predicts
 * from), and rates-<w>-threads.json for another count (`--workers w`; 1 thread: what `npm run cost -- --cores N`
 * estimates from). (Here, not in config/layout.ts, which every task loads: a path only the commands use
 * keys no task.)
 */
export const ratesFile = (profile: string, profileWorkers: number, workers = profileWorkers) =>
  `${profileDataDir(profile)}/${workers === profileWorkers ? 'rates.json' : `rates-${workers}-thread${workers === 1 ? '' : 's'}.json`}`;

/**
 * The rates measured for `profile` on this machine (`npm run bench -- --profile`) with `workers` threads per run,
 * or null when there are none: none measured, none measured with that many (the profile's execution.workers
 * changed since), or none that this version reads (a file from an older benchmark is measured again, never a
 * reason to fail a build).
 */
export function readRates(file: string, workers: number): Rates | null {
  if (!existsSync(file)) return null;
  try {
    const rates = readContract(file, Rates);
    return rates.workers === workers ? rates : null;
  } catch (e) {
    if (e instanceof FormatError) return null;
    throw e;
  }
}

/**
 * An estimate, not a measurement: the training wall time of `runs` on `cores` cores when each run trains on one
 * thread and Nx keeps `cores` of them going (execution.workers 1, Nx's parallel = the cores, as npm run build
 * sets it). Each run's seconds are predicted from single-thread rates (`npm run bench -- --profile P --workers 1`),
 * and the runs are packed longest first onto the cores (list scheduling; Nx starts tasks in graph order, so a
 * long run started late can add up to its own length). It assumes the cores do not slow each other down (each
 * run's points and parameters fit in its core's caches at post's n = 1,000).
 */
export function estimateCores(runs: RunPlan[], singleThread: ShapeRate[], cores: number): { seconds: number; serial: number; longest: number } {
  const each = runs.map((r) => predictSeconds([r], singleThread)).sort((a, b) => b - a);
  const load = new Array<number>(cores).fill(0);
  for (const s of each) {
    let k = 0;
    for (let i = 1; i < cores; i++) if (load[i] < load[k]) k = i;
    load[k] += s;
  }
  return { seconds: Math.max(...load), serial: each.reduce((a, s) => a + s, 0), longest: each[0] ?? 0 };
}

/** Wall seconds of a built run's training (timing.json), or null when it has none here. */
export function runSeconds(r: RunPlan): number | null {
  if (!existsSync(r.files.timing)) return null;
  return readContract(r.files.timing, Timing).wallTimeSeconds;
}

/** A row of the cost table: a figure's runs (or all the profile's), their pairs, the training seconds of those built, and the seconds predicted from measured rates. */
interface CostRow { name: string; runs: number; pairs: number; seconds: number | null; built: number; predicted: number | null }

export function costOf(name: string, runs: RunPlan[], rates: Rates | null = null): CostRow {
  const secs = runs.map(runSeconds);
  const built = secs.filter((s) => s !== null).length;
  return {
    name, runs: runs.length, pairs: runs.reduce((a, r) => a + runPairs(r), 0), seconds: built ? secs.reduce<number>((a, s) => a + (s ?? 0), 0) : null, built,
    predicted: rates ? predictSeconds(runs, rates.shapes) : null,
  };
}

const sci = (x: number) => x.toExponential(2).replace('e+', 'e');

export function formatCost(rows: CostRow[], total: CostRow): string {
  const withPrediction = total.predicted !== null;
  const line = (r: CostRow, bold = false) => {
    const name = bold ? `**${r.name}**` : r.name;
    const secs = r.seconds === null ? 'not built' : `${Math.round(r.seconds).toLocaleString('en-US')}${r.built < r.runs ? ` (${r.built} of ${r.runs} runs built)` : ''}`;
    const predicted = withPrediction ? ` ${Math.round(r.predicted!).toLocaleString('en-US')} |` : '';
    return `| ${name} | ${r.runs} | ${sci(r.pairs)} | ${secs} |${predicted}`;
  };
  const head = withPrediction ? ['| figure | runs | pairs | training seconds | predicted seconds |', '|---|---:|---:|---:|---:|'] : ['| figure | runs | pairs | training seconds |', '|---|---:|---:|---:|'];
  return [...head, ...rows.map((r) => line(r)), line(total, true)].join('\n');
}

/**
 * A line for the end of a build: the training seconds the profile's runs recorded (timing.json, where each
 * was trained), against those predicted from the rates measured here, when they have been.
 */
export function trainingSummary(profile: string, runs: RunPlan[], rates: Rates | null, ratesAt: string): string {
  const built = runs.filter((r) => runSeconds(r) !== null);
  const recorded = built.reduce((a, r) => a + runSeconds(r)!, 0);
  const fmt = (s: number) => `${Math.round(s).toLocaleString('en-US')} s`;
  const head = `training of ${profile}: ${built.length} of ${runs.length} runs, ${fmt(recorded)} as their timing.json recorded`;
  return rates
    ? `${head}; predicted ${fmt(predictSeconds(built, rates.shapes))} one run at a time from ${ratesAt} (${rates.engine.name} ${rates.engine.version})`
    : `${head}; \`npm run bench -- --profile ${profile}\` measures the rates that predict it`;
}

/** One task's line in the stage log (stages/context.ts STAGE_LOG). */
export interface StageTime { stage: string; id: string; seconds: number }

/**
 * A line for the end of a build: the tasks Nx ran (not those from its cache), per stage, with their wall
 * seconds summed (each from its process's start, module loading included), and the build's wall time.
 */
export function stageTimesSummary(times: StageTime[], wallSeconds: number): string {
  const order = ['data', 'train', 'geometry', 'render'];
  const per = new Map<string, { tasks: number; seconds: number }>();
  for (const t of times) {
    const e = per.get(t.stage) ?? { tasks: 0, seconds: 0 };
    e.tasks++;
    e.seconds += t.seconds;
    per.set(t.stage, e);
  }
  const rank = (k: string) => (order.includes(k) ? order.indexOf(k) : order.length);
  const stages = [...per.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const fmt = (s: number) => `${s < 10 ? s.toFixed(1) : Math.round(s).toLocaleString('en-US')} s`;
  const parts = stages.map((k) => `${k} ${per.get(k)!.tasks} in ${fmt(per.get(k)!.seconds)}`);
  return `tasks run: ${parts.length ? parts.join(', ') : 'none'} (each task's seconds from its process's start, summed); the build's wall time ${fmt(wallSeconds)}`;
}
