import type { Engine, EngineSession, OptimiserSettings } from './engine.ts';
import type { SparsePoints } from '../format/sparse.ts';
import { lossAndGradient, zerosLike, type Params } from '../model/toy-model.ts';
import { AdamWState, adamwUpdate, advance } from '../optim/adamw.ts';

/** Plain TypeScript, float64 throughout: the definition the faster engines are checked against. */
export const referenceEngine: Engine = {
  name: 'reference',
  version: '1',
  open(init: Params, opt: OptimiserSettings): EngineSession {
    const p: Params = { n: init.n, m: init.m, W: init.W.slice(), b: init.b.slice() };
    const grad = zerosLike(p);
    const state = new AdamWState(p.W.length + p.b.length);
    const hyper = { beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps };
    return {
      step(batch: SparsePoints, lr: number): number {
        const l = lossAndGradient(p, batch, grad);
        advance(state, hyper);
        adamwUpdate(p.W, grad.W, state, 0, lr, opt.weightDecay, hyper);
        adamwUpdate(p.b, grad.b, state, p.W.length, lr, opt.decayBias ? opt.weightDecay : 0, hyper);
        return l;
      },
      loss: (batch) => lossAndGradient(p, batch),
      params: () => ({ n: p.n, m: p.m, W: p.W.slice(), b: p.b.slice() }),
      dispose() {},
    };
  },
};
