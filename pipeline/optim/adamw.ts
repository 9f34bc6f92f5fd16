/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter; PyTorch's update order):
 *   p <- p * (1 - lr * wd)
 *   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
 *   p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * b1^t and b2^t are kept as running products (no Math.pow), the same on every machine.
 */
export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
}

export class AdamWState {
  readonly m: Float64Array;
  readonly v: Float64Array;
  t = 0;
  beta1Power = 1;
  beta2Power = 1;
  constructor(size: number) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }
}

/** One AdamW step over a flat slice of parameters; call `advance` once per step first. */
export function adamwUpdate(
  param: Float64Array, grad: Float64Array, state: AdamWState, offset: number,
  lr: number, weightDecay: number, h: AdamWHyper,
): void {
  const { m, v } = state;
  const c1 = 1 - state.beta1Power;
  const c2 = 1 - state.beta2Power;
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i];
    const j = offset + i;
    m[j] = h.beta1 * m[j] + (1 - h.beta1) * g;
    v[j] = h.beta2 * v[j] + (1 - h.beta2) * g * g;
    param[i] = param[i] * decay - (lr * (m[j] / c1)) / (Math.sqrt(v[j] / c2) + h.eps);
  }
}

export function advance(state: AdamWState, h: AdamWHyper): void {
  state.t += 1;
  state.beta1Power *= h.beta1;
  state.beta2Power *= h.beta2;
}
