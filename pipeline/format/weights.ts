import { readKind, writeContainer } from './container.ts';
import { FormatError } from '../files/error.ts';
import type { Params } from '../model/toy-model.ts';
import { WEIGHTS_KIND, WEIGHTS_LAYOUT, WeightsHeader, type WeightsMeta } from '../contracts/weights.ts';

export { WEIGHTS_KIND };

/** W is stored feature-major (n rows of m): row i is the feature vector W_i. `label`: the run and profile, or anything else to keep with them. */
export function writeWeights(file: string, p: Params, label: Record<string, unknown>): void {
  const meta: WeightsMeta = { ...label, n: p.n, m: p.m, layout: WEIGHTS_LAYOUT };
  writeContainer(file, { kind: WEIGHTS_KIND, meta, arrays: { W: p.W, b: p.b } });
}

export function readWeights(file: string): Params & { meta: WeightsMeta } {
  const { meta, arrays } = readKind(file, WEIGHTS_KIND, WeightsHeader);
  const { n, m } = meta;
  const { W, b } = arrays as { W: Float64Array; b: Float64Array }; // float64, as the header said
  if (W.length !== n * m || b.length !== n) throw new FormatError(file, 'corrupt: weight arrays disagree with the header shape');
  return { n, m, W, b, meta };
}
