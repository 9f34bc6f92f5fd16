/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter; PyTorch's update order), with first and
 * second moments mom1 and mom2 (elsewhere m and v; here m is only ever the hidden size):
 *   p <- p * (1 - lr * wd)
 *   mom1 <- b1 mom1 + (1 - b1) g;   mom2 <- b2 mom2 + (1 - b2) g^2
 *   p <- p - lr * (mom1 / (1 - b1^t)) / (sqrt(mom2 / (1 - b2^t)) + eps)
 * b1^t and b2^t are kept as running products (no Math.pow), the same on every machine.
 */
export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
}

export class AdamWState {
  /** The first moment of each parameter: the running mean of its gradient. */
  readonly firstMoment: Float64Array;
  /** The second moment: the running mean of its squared gradient. */
  readonly secondMoment: Float64Array;
  t = 0;
  beta1Power = 1;
  beta2Power = 1;
  constructor(size: number) {
    this.firstMoment = new Float64Array(size);
    this.secondMoment = new Float64Array(size);
  }
}

/** One AdamW step over a flat slice of parameters; call `advance` once per step first. */
export function adamwUpdate(
  param: Float64Array, grad: Float64Array, state: AdamWState, offset: number,
  lr: number, weightDecay: number, h: AdamWHyper,
): void {
  const { firstMoment: mom1, secondMoment: mom2 } = state;
  const c1 = 1 - state.beta1Power;
  const c2 = 1 - state.beta2Power;
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i];
    const j = offset + i;
    mom1[j] = h.beta1 * mom1[j] + (1 - h.beta1) * g;
    mom2[j] = h.beta2 * mom2[j] + (1 - h.beta2) * g * g;
    param[i] = param[i] * decay - (lr * (mom1[j] / c1)) / (Math.sqrt(mom2[j] / c2) + h.eps);
  }
}

export function advance(state: AdamWState, h: AdamWHyper): void {
  state.t += 1;
  state.beta1Power *= h.beta1;
  state.beta2Power *= h.beta2;
}
