import type { RunPlan } from '../config/plan.ts';
import { ConfigError } from '../config/load.ts';
import { runPairs } from '../cost.ts';

/**
 * Splitting a profile's training across machines, computed from the config alone: every machine that
 * asks for shard i of N gets the same runs, so no coordinator is needed.
 */

/** Which shard: `i/N`, 1-based, the i-th of N slices. */
interface ShardIndex { index: number; count: number }

export function parseShard(text: string): ShardIndex {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new RangeError(`--shard: expected i/N with 1 ≤ i ≤ N (e.g. 3/16), found "${text}"`);
  return { index, count };
}

/**
 * Refuses a split into more shards than the profile has runs: a run is the unit of work, so the extra
 * shards would be empty, and a scheduler would still start a machine (an Actions runner, a Slurm task)
 * for each. `source` says where the count came from (e.g. `--shards 40`, `--shard 3/40`,
 * `execution.shards = 40`). The one check of `--plan`, `--shard` and `npm run slurm`. Up to as many shards
 * as runs, splitRuns fills every shard: each of the first `count` runs goes to a shard still empty.
 */
export function checkShardCount(profile: string, runs: number, count: number, source: string): void {
  if (count <= runs) return;
  const empty = count - runs;
  throw new ConfigError(
    `${source}: profile ${profile} has ${runs} runs, fewer than the ${count} shards asked for, so ${empty} shard${empty === 1 ? '' : 's'} would have no run; ` +
      `split it into at most ${runs} shards`,
  );
}

/**
 * What a run costs, in (point, feature) pairs at m = 2: its pairs (batch x n x steps x inits) times m/2
 * for m > 2, since the fast engine's cost grows with m from there (README, Benchmark).
 */
const runCost = (r: RunPlan) => runPairs(r) * Math.max(1, r.m / 2);

export interface Shard { index: number; runs: RunPlan[]; cost: number; pairs: number }

/**
 * The runs split into `count` shards balanced by cost: longest first (ties by id), each to the shard
 * with the least cost so far (ties to the lower index). Deterministic: it depends on the runs alone.
 */
export function splitRuns(runs: RunPlan[], count: number): Shard[] {
  const shards: Shard[] = Array.from({ length: count }, (_, i) => ({ index: i + 1, runs: [], cost: 0, pairs: 0 }));
  const order = [...runs].sort((a, b) => runCost(b) - runCost(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const r of order) {
    const to = shards.reduce((best, s) => (s.cost < best.cost ? s : best));
    to.runs.push(r);
    to.cost += runCost(r);
    to.pairs += runPairs(r);
  }
  return shards;
}

/** Throughput of the fast engine here, at m = 2 with 2 threads (npm run bench: 3,000–3,900 M pairs/s); the default of --plan. */
export const MEASURED_PAIRS_PER_SECOND = 3.0e9;

const hours = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`);

/** The split for schedulers (`--plan --json`): the shard indices (a GitHub Actions matrix) and each shard's runs, pairs and estimated seconds. */
export function planJson(profile: string, shards: Shard[], pairsPerSecond = MEASURED_PAIRS_PER_SECOND) {
  return {
    profile, count: shards.length, indices: shards.map((s) => s.index),
    shards: shards.map((s) => ({ index: s.index, runs: s.runs.map((r) => r.id), pairs: s.pairs, estimatedSeconds: Math.round(s.cost / pairsPerSecond) })),
  };
}

/** The split as a table: each shard's runs, pairs and estimated time at `pairsPerSecond` (m = 2). */
export function formatPlan(profile: string, shards: Shard[], pairsPerSecond = MEASURED_PAIRS_PER_SECOND): string {
  const total = shards.reduce((a, s) => a + s.cost, 0);
  const longest = Math.max(...shards.map((s) => s.cost));
  const lines = [
    `profile ${profile}: ${shards.reduce((a, s) => a + s.runs.length, 0)} runs, ${total.toExponential(2)} pair-equivalents (pairs x max(1, m/2)), ` +
      `${hours(total / pairsPerSecond)} on one machine at ${(pairsPerSecond / 1e6).toLocaleString('en-US')} M pairs/s; ` +
      `${shards.length} shards: the longest ${hours(longest / pairsPerSecond)}`,
    '| shard | runs | pairs | estimated time | largest run |',
    '|---:|---:|---:|---:|---|',
    ...shards.map((s) => `| ${s.index}/${shards.length} | ${s.runs.length} | ${s.pairs.toExponential(2)} | ${hours(s.cost / pairsPerSecond)} | ${s.runs[0]?.id ?? '—'} |`),
  ];
  return lines.join('\n');
}
