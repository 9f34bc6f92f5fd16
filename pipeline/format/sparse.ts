import { readContainer, writeContainer } from './container.ts';
import { FormatError } from './error.ts';
import type { SparsePoints } from '../data/points.ts';

export interface SparsePointsMeta {
  label: string; // the PRNG stream that made them
  [key: string]: unknown;
}

export const SPARSE_KIND = 'sparse-points';

export function writeSparsePoints(file: string, p: SparsePoints, meta: SparsePointsMeta): void {
  writeContainer(file, {
    kind: SPARSE_KIND,
    meta: { ...meta, n: p.n, count: p.count, nnz: p.col.length },
    arrays: { rowPtr: p.rowPtr, col: p.col, val: p.val },
  });
}

export function readSparsePoints(file: string): SparsePoints & { meta: SparsePointsMeta } {
  const c = readContainer(file, SPARSE_KIND);
  const { rowPtr, col, val } = c.arrays as { rowPtr: Uint32Array; col: Uint32Array; val: Float32Array };
  const n = Number(c.meta.n);
  const count = Number(c.meta.count);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(count) || count < 0)
    throw new FormatError(file, 'corrupt: header lacks the shape (n, count)');
  if (!(rowPtr instanceof Uint32Array) || !(col instanceof Uint32Array) || !(val instanceof Float32Array))
    throw new FormatError(file, 'corrupt: sparse arrays have wrong types');
  if (rowPtr.length !== count + 1 || col.length !== val.length || rowPtr[count] !== col.length)
    throw new FormatError(file, 'corrupt: sparse arrays disagree with the header shape');
  for (let t = 0; t < count; t++) {
    if (rowPtr[t] > rowPtr[t + 1]) throw new FormatError(file, `corrupt: row offsets decrease at point ${t}`);
    for (let p = rowPtr[t]; p < rowPtr[t + 1]; p++) {
      if (col[p] >= n || (p > rowPtr[t] && col[p] <= col[p - 1])) throw new FormatError(file, `corrupt: bad column index in point ${t}`);
    }
  }
  return { n, count, rowPtr, col, val, meta: c.meta as SparsePointsMeta };
}
