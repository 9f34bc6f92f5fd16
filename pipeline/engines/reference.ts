import type { OptimiserSettings, SessionState } from './engine.ts';
import { stepwiseEngine, type StepEngine, type StepSession } from './stepwise.ts';
import type { SparsePoints } from '../data/points.ts';
import { lossAndGradient, zerosLike, type Params } from '../model/toy-model.ts';
import { AdamWState, adamwUpdate, advance } from '../optim/adamw.ts';

/** Plain TypeScript, float64 throughout: the definition the faster engines are checked against. */
export const referenceEngine: StepEngine = stepwiseEngine({
  name: 'reference',
  version: '1',
  openStep(init: Params, opt: OptimiserSettings, resume?: SessionState): StepSession {
    const from = resume?.params ?? init;
    const p: Params = { n: from.n, m: from.m, W: from.W.slice(), b: from.b.slice() };
    const grad = zerosLike(p);
    const state = new AdamWState(p.W.length + p.b.length);
    if (resume) {
      state.firstMoment.set(resume.m);
      state.secondMoment.set(resume.v);
      state.t = resume.t;
      state.beta1Power = resume.beta1Power;
      state.beta2Power = resume.beta2Power;
    }
    const hyper = { beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps };
    const copyParams = (): Params => ({ n: p.n, m: p.m, W: p.W.slice(), b: p.b.slice() });
    return {
      step(batch: SparsePoints, lr: number): number {
        const l = lossAndGradient(p, batch, grad);
        advance(state, hyper);
        adamwUpdate(p.W, grad.W, state, 0, lr, opt.weightDecay, hyper);
        adamwUpdate(p.b, grad.b, state, p.W.length, lr, opt.decayBias ? opt.weightDecay : 0, hyper);
        return l;
      },
      gradient(batch) {
        const g = zerosLike(p);
        return { loss: lossAndGradient(p, batch, g), grad: g };
      },
      params: copyParams,
      state: () => ({
        params: copyParams(), m: state.firstMoment.slice(), v: state.secondMoment.slice(), t: state.t, beta1Power: state.beta1Power, beta2Power: state.beta2Power,
      }),
      dispose() {},
    };
  },
});

export const createEngine = async (): Promise<StepEngine> => referenceEngine;
