import { readContainer, writeContainer } from './container.ts';
import { FormatError } from './error.ts';
import type { Params } from '../model/toy-model.ts';

export const SNAPSHOTS_KIND = 'toy-model-snapshots';

/** The weights at one step of training: before that step's update (the final weights: step = steps). */
export interface Snapshot {
  step: number;
  params: Params;
}

/** The snapshots as two arrays, W (k x n x m, each feature-major) and b (k x n), and their steps. */
export function packSnapshots(list: Snapshot[], n: number, m: number): { steps: number[]; W: Float64Array; b: Float64Array } {
  const W = new Float64Array(list.length * n * m);
  const b = new Float64Array(list.length * n);
  list.forEach((s, k) => {
    W.set(s.params.W, k * n * m);
    b.set(s.params.b, k * n);
  });
  return { steps: list.map((s) => s.step), W, b };
}

export function unpackSnapshots(steps: number[], W: Float64Array, b: Float64Array, n: number, m: number, file: string): Snapshot[] {
  if (W.length !== steps.length * n * m || b.length !== steps.length * n) throw new FormatError(file, 'corrupt: snapshot arrays disagree with the header shape');
  return steps.map((step, k) => ({ step, params: { n, m, W: W.slice(k * n * m, (k + 1) * n * m), b: b.slice(k * n, (k + 1) * n) } }));
}

export function writeSnapshots(file: string, list: Snapshot[], n: number, m: number, meta: Record<string, unknown>): void {
  const { steps, W, b } = packSnapshots(list, n, m);
  writeContainer(file, { kind: SNAPSHOTS_KIND, meta: { ...meta, n, m, steps, layout: 'W: snapshots x (n x m feature-major); b: snapshots x n' }, arrays: { W, b } });
}

export function readSnapshots(file: string): Snapshot[] {
  const c = readContainer(file, SNAPSHOTS_KIND);
  const { W, b } = c.arrays;
  const steps = c.meta.steps;
  if (!(W instanceof Float64Array) || !(b instanceof Float64Array) || !Array.isArray(steps)) throw new FormatError(file, 'corrupt: expected float64 arrays W and b and a list of steps');
  return unpackSnapshots(steps as number[], W, b, Number(c.meta.n), Number(c.meta.m), file);
}
