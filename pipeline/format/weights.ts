import { readContainer, writeContainer } from './container.ts';
import { FormatError } from './error.ts';
import type { Params } from '../model/toy-model.ts';

export const WEIGHTS_KIND = 'toy-model-weights';

/** W is stored feature-major (n rows of m): row i is the feature vector W_i. */
export function writeWeights(file: string, p: Params, meta: Record<string, unknown>): void {
  writeContainer(file, { kind: WEIGHTS_KIND, meta: { ...meta, n: p.n, m: p.m, layout: 'W feature-major n x m' }, arrays: { W: p.W, b: p.b } });
}

export function readWeights(file: string): Params & { meta: Record<string, unknown> } {
  const c = readContainer(file, WEIGHTS_KIND);
  const n = Number(c.meta.n), m = Number(c.meta.m);
  const { W, b } = c.arrays;
  if (!(W instanceof Float64Array) || !(b instanceof Float64Array) || W.length !== n * m || b.length !== n)
    throw new FormatError(file, 'corrupt: weight arrays disagree with the header shape');
  return { n, m, W, b, meta: c.meta };
}
