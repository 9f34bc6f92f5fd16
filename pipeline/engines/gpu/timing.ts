import { generatePoints } from '../../data/generate.ts';
import { xavierNormalInit } from '../../model/init.ts';
import { Rng } from '../../prng/rng.ts';
import type { SpanData } from '../engine.ts';
import { adapterDescription } from './device.ts';
import { createGpuEngine, type GpuSession, type RunTiming } from './engine.ts';

export interface StepTimingOptions {
  /** Points per step (Infinity: a fresh batch of `batch` points per step). */
  T: number;
  n: number;
  m: number;
  inits?: number;
  steps: number;
  sparsity?: number;
  /** Points per online batch (T = Infinity). */
  batch?: number;
  /** Steps trained before the timed span (kernel compilation, first uploads). */
  warmupSteps?: number;
}

export interface StepTiming {
  adapter: string;
  T: number;
  n: number;
  m: number;
  inits: number;
  steps: number;
  /** Wall time of the timed span: run() from call to result. */
  wallMs: number;
  /** CPU time spent encoding and submitting the steps (overlaps the device's work). */
  encodeMs: number;
  /** Time the host waited on the device: what the encoding did not hide. */
  waitMs: number;
  /** The device's share: wall time less encoding and read-back. */
  gpuMs: number;
  /** Mapping and copying out the losses and the final weights. */
  readbackMs: number;
  stepsPerSecond: number;
  /** (point, feature) pairs per second, over all inits. */
  pairsPerSecond: number;
}

/**
 * Trains `steps` steps of a (T, n, m, inits) problem on the gpu engine after a warm-up and splits the
 * wall time into encoding + submitting, waiting for the device, and reading back (the loss of the
 * last step and the weights after it, as a training span would).
 */
export async function gpuStepTiming(o: StepTimingOptions): Promise<StepTiming> {
  const { T, n, m, steps } = o;
  const inits = o.inits ?? 1;
  const sparsity = o.sparsity ?? 0.999;
  const warmup = o.warmupSteps ?? 2;
  const batch = o.batch ?? 1000;
  const online = !Number.isFinite(T);
  const engine = await createGpuEngine();
  try {
    const models = Array.from({ length: inits }, (_, i) => xavierNormalInit(n, m, Rng.fromLabel(`timing/${n}/${m}/${i}`)));
    const total = warmup + steps;
    const schedule = new Float64Array(total).fill(1e-3);
    const session = (await engine.open({ inits: models, opt: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayBias: true }, schedule })) as GpuSession;
    let data: SpanData = online
      ? { kind: 'online', n, sparsity, batch, stream: Rng.fromLabel('timing/stream').state() }
      : { kind: 'fixed', points: generatePoints({ n, sparsity }, T, Rng.fromLabel(`timing/${n}/${T}`)) };
    const warm = await session.run({ from: 0, to: warmup, data, lossSteps: [], snapshotSteps: [] });
    if (online) data = { ...(data as Extract<SpanData, { kind: 'online' }>), stream: warm.stream! };
    const timing: RunTiming = { encodeMs: 0, waitMs: 0, readbackMs: 0 };
    const t0 = performance.now();
    await session.runTimed({ from: warmup, to: total, data, lossSteps: [total - 1], snapshotSteps: [total] }, timing);
    const wallMs = performance.now() - t0;
    await session.dispose();
    const pointsPerStep = online ? batch : T;
    return {
      adapter: (await adapterDescription()).description,
      T,
      n,
      m,
      inits,
      steps,
      wallMs,
      ...timing,
      gpuMs: wallMs - timing.encodeMs - timing.readbackMs,
      stepsPerSecond: (steps * 1000) / wallMs,
      pairsPerSecond: (steps * pointsPerStep * n * inits * 1000) / wallMs,
    };
  } finally {
    await engine.close();
  }
}
