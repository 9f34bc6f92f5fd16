import { generatePoints } from '../data/generate.ts';
import type { SparsePoints } from '../data/points.ts';
import type { Params } from '../model/toy-model.ts';
import { Rng } from '../prng/rng.ts';
import type { Engine, EngineSession, OptimiserSettings, SessionOptions, SessionState, Span, SpanResult } from './engine.ts';

/**
 * One init's training, one step at a time, on the host: what the CPU engines (reference, fast,
 * tfjs) implement. `stepwiseEngine` makes an Engine of it; the conformance tests also drive it
 * directly, step by step.
 */
export interface StepSession {
  /** Loss at the current parameters on `batch` (NaN when not `withLoss` and the engine skips it), then the gradient and one AdamW update at rate `lr`. */
  step(batch: SparsePoints, lr: number, withLoss?: boolean): number;
  gradient(batch: SparsePoints): { loss: number; grad: Params };
  params(): Params;
  state(): SessionState;
  dispose(): void | Promise<void>;
}

export interface StepEngine extends Engine {
  /** A session of one init, stepped by the caller. */
  openStep(init: Params, opt: OptimiserSettings, resume?: SessionState): StepSession | Promise<StepSession>;
}

interface StepwiseOptions {
  name: string;
  version: string;
  openStep: StepEngine['openStep'];
  close?: () => Promise<void>;
}

/**
 * An Engine whose sessions train every init of a run over a span by stepping each init in turn, each
 * with a step session of its own. (The fast engine trains its inits together natively: kernel/fast-engine.ts.)
 */
export function stepwiseEngine(o: StepwiseOptions): StepEngine {
  return {
    name: o.name,
    version: o.version,
    openStep: o.openStep,
    open: (options) => openStepwise(o, options),
    ...(o.close ? { close: o.close } : {}),
  };
}

async function openStepwise(o: StepwiseOptions, { inits, opt, schedule, resume }: SessionOptions): Promise<EngineSession> {
  if (resume && resume.length !== inits.length) throw new RangeError(`${o.name} engine: ${resume.length} saved states for ${inits.length} inits`);
  const live: StepSession[] = [];
  for (let i = 0; i < inits.length; i++) live.push(await o.openStep(inits[i], opt, resume?.[i]));

  return {
    inits: inits.length,
    async run(span: Span): Promise<SpanResult> {
      const { from, to, data, lossSteps, snapshotSteps } = span;
      if (to > schedule.length) throw new RangeError(`${o.name} engine: span to step ${to}, but the schedule has ${schedule.length} steps`);
      const losses: Float64Array[] = [];
      const snapshots: Params[][] = [];
      let stream: SpanResult['stream'] = null;
      for (const s of live) {
        // Every init trains on the same batches: each draws them from the span's stream state.
        const rng = data.kind === 'online' ? Rng.fromState(data.stream) : null;
        const l = new Float64Array(lossSteps.length);
        const snaps: Params[] = [];
        let li = 0, si = 0;
        for (let step = from; step < to; step++) {
          if (snapshotSteps[si] === step) (snaps.push(s.params()), si++);
          const batch = data.kind === 'fixed' ? data.points : generatePoints(data, data.batch, rng!);
          const withLoss = lossSteps[li] === step;
          const loss = s.step(batch, schedule[step], withLoss);
          if (withLoss) l[li++] = loss;
        }
        if (snapshotSteps[si] === to) snaps.push(s.params());
        losses.push(l);
        snapshots.push(snaps);
        if (rng) stream = rng.state();
      }
      return { losses, snapshots, stream };
    },
    gradient: async (points) => live.map((s) => s.gradient(points)),
    params: async () => live.map((s) => s.params()),
    state: async () => live.map((s) => s.state()),
    async dispose() {
      for (const s of live) await s.dispose();
      live.length = 0;
    },
  };
}
