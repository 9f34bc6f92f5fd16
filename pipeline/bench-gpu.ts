import { gpuStepTiming } from './engines/gpu/timing.ts';
import { GPU_ENGINE_VERSION } from './engines/gpu/engine.ts';
import { upperMedian } from './geometry/median.ts';
import { PROBLEM } from './bench.ts';

/**
 * The gpu engine's benchmark (`npm run bench -- --engine gpu`, commands/bench.ts): M pairs/s of full-batch
 * steps at T = 1,000 and 10,000, n = 10,000, m = 2, 4 and 8, S = 0.999, on the WebGPU adapter found, beside
 * the fast engine on two threads in the same run, and how a step's wall time splits into encoding and
 * submitting (CPU), the device's work, and reading back.
 */
export const GPU_SHAPES = { Ts: [1000, 10_000], ms: [2, 4, 8] };

/** Seconds of steps timed per measurement (after a warm-up that compiles the kernels). */
const SECONDS = 2;

export interface GpuMeasurement {
  adapter: string;
  version: string;
  pairsPerSecond: number;
  steps: number;
  /** Per step, milliseconds: encoding and submitting, the device, reading back. */
  encodeMs: number;
  gpuMs: number;
  readbackMs: number;
}

/** One gpu measurement at (T, m), in this process: a short probe sizes the timed span to about SECONDS. */
export async function measureGpu(m: number, T: number): Promise<GpuMeasurement> {
  const { n, sparsity } = PROBLEM;
  const probe = await gpuStepTiming({ T, n, m, sparsity, steps: 2, warmupSteps: 1 });
  const steps = Math.max(3, Math.min(5000, Math.round((SECONDS * probe.stepsPerSecond))));
  const t = await gpuStepTiming({ T, n, m, sparsity, steps, warmupSteps: 2 });
  return {
    adapter: t.adapter, version: GPU_ENGINE_VERSION, pairsPerSecond: t.pairsPerSecond, steps,
    encodeMs: t.encodeMs / steps, gpuMs: t.gpuMs / steps, readbackMs: t.readbackMs / steps,
  };
}

export interface GpuRow { T: number; m: number; gpu: GpuMeasurement[]; fast: number[] }

const mps = (x: number) => Math.round(x / 1e6).toLocaleString('en-US');

export function gpuBenchTable(rows: GpuRow[]): string {
  const adapter = rows.find((r) => r.gpu.length)?.gpu[0].adapter ?? 'none';
  const version = rows.find((r) => r.gpu.length)?.gpu[0].version ?? '';
  const lines = [
    '',
    `gpu engine ${version} on: ${adapter}`,
    `n = ${PROBLEM.n}, S = ${PROBLEM.sparsity}; medians over the rounds; one init per step`,
    '',
    '| T | m | gpu M pairs/s | fast, 2 threads, M pairs/s | gpu / fast | gpu ms per step: encode + submit / device / read-back |',
    '|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const g = r.gpu.length ? upperMedian(r.gpu.map((x) => x.pairsPerSecond)) : NaN;
    const f = r.fast.length ? upperMedian(r.fast) : NaN;
    const pick = (k: 'encodeMs' | 'gpuMs' | 'readbackMs') => (r.gpu.length ? upperMedian(r.gpu.map((x) => x[k])) : NaN);
    const split = r.gpu.length ? `${pick('encodeMs').toFixed(3)} / ${pick('gpuMs').toFixed(2)} / ${pick('readbackMs').toFixed(3)}` : 'failed';
    lines.push(`| ${r.T.toLocaleString('en-US')} | ${r.m} | ${Number.isFinite(g) ? mps(g) : 'failed'} | ${Number.isFinite(f) ? mps(f) : 'failed'} | ${Number.isFinite(g / f) ? (g / f).toFixed(2) : 'n/a'} | ${split} |`);
  }
  return lines.join('\n') + '\n';
}
