import { readKind, writeContainer } from './container.ts';
import { FormatError } from '../files/error.ts';
import type { Params } from '../model/toy-model.ts';
import { SNAPSHOTS_KIND, SNAPSHOTS_LAYOUT, SnapshotsHeader, type SnapshotsMeta } from '../contracts/snapshots.ts';

export { SNAPSHOTS_KIND };

/** The weights at one step of training: before that step's update (the final weights: step = steps). */
export interface Snapshot {
  step: number;
  params: Params;
}

/** Several weights of one shape as two arrays, W (k x n x m, each feature-major) and b (k x n): snapshots.bin's and inits.bin's layout. */
export function stackParams(list: Params[], n: number, m: number): { W: Float64Array; b: Float64Array } {
  const W = new Float64Array(list.length * n * m);
  const b = new Float64Array(list.length * n);
  list.forEach((p, k) => {
    W.set(p.W, k * n * m);
    b.set(p.b, k * n);
  });
  return { W, b };
}

/** stackParams undone: `count` weights, or a FormatError naming `file` when the arrays do not hold that many. */
export function unstackParams(count: number, W: Float64Array, b: Float64Array, n: number, m: number, file: string): Params[] {
  if (W.length !== count * n * m || b.length !== count * n) throw new FormatError(file, 'corrupt: weight arrays disagree with the header shape');
  return Array.from({ length: count }, (_, k) => ({ n, m, W: W.slice(k * n * m, (k + 1) * n * m), b: b.slice(k * n, (k + 1) * n) }));
}

/** The snapshots as two arrays, W (k x n x m, each feature-major) and b (k x n), and their steps. */
export function packSnapshots(list: Snapshot[], n: number, m: number): { steps: number[]; W: Float64Array; b: Float64Array } {
  return { steps: list.map((s) => s.step), ...stackParams(list.map((s) => s.params), n, m) };
}

export function unpackSnapshots(steps: number[], W: Float64Array, b: Float64Array, n: number, m: number, file: string): Snapshot[] {
  return unstackParams(steps.length, W, b, n, m, file).map((params, k) => ({ step: steps[k], params }));
}

/** `label`: the run, profile and init, or anything else to keep with them. */
export function writeSnapshots(file: string, list: Snapshot[], n: number, m: number, label: Record<string, unknown>): void {
  const { steps, W, b } = packSnapshots(list, n, m);
  const meta: SnapshotsMeta = { ...label, n, m, steps, layout: SNAPSHOTS_LAYOUT };
  writeContainer(file, { kind: SNAPSHOTS_KIND, meta, arrays: { W, b } });
}

export function readSnapshots(file: string): Snapshot[] {
  const { meta, arrays } = readKind(file, SNAPSHOTS_KIND, SnapshotsHeader);
  const { W, b } = arrays as { W: Float64Array; b: Float64Array }; // float64, as the header said
  return unpackSnapshots(meta.steps, W, b, meta.n, meta.m, file);
}
