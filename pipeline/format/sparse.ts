import { readKind, writeContainer } from './container.ts';
import { FormatError } from '../files/error.ts';
import type { SparsePoints } from '../data/points.ts';
import { PointsHeader, SPARSE_KIND, type PointsMeta } from '../contracts/points.ts';

export { SPARSE_KIND };

/** What the writer labels the points with: the PRNG stream that made them, and anything else (the data stage: the data set's spec). */
interface SparsePointsMeta {
  label: string; // the PRNG stream that made them
  [key: string]: unknown;
}

export function writeSparsePoints(file: string, p: SparsePoints, label: SparsePointsMeta): void {
  const meta: PointsMeta = { ...label, n: p.n, count: p.count, nnz: p.col.length };
  writeContainer(file, { kind: SPARSE_KIND, meta, arrays: { rowPtr: p.rowPtr, col: p.col, val: p.val } });
}

export function readSparsePoints(file: string): SparsePoints & { meta: PointsMeta } {
  const { meta, arrays } = readKind(file, SPARSE_KIND, PointsHeader);
  const { rowPtr, col, val } = arrays as { rowPtr: Uint32Array; col: Uint32Array; val: Float32Array }; // their dtypes, as the header said
  const { n, count } = meta;
  if (rowPtr.length !== count + 1 || col.length !== val.length || rowPtr[count] !== col.length)
    throw new FormatError(file, 'corrupt: sparse arrays disagree with the header shape');
  for (let t = 0; t < count; t++) {
    if (rowPtr[t] > rowPtr[t + 1]) throw new FormatError(file, `corrupt: row offsets decrease at point ${t}`);
    for (let p = rowPtr[t]; p < rowPtr[t + 1]; p++) {
      if (col[p] >= n || (p > rowPtr[t] && col[p] <= col[p - 1])) throw new FormatError(file, `corrupt: bad column index in point ${t}`);
    }
  }
  return { n, count, rowPtr, col, val, meta };
}
