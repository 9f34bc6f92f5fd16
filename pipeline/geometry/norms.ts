/** Euclidean norm of a flat array (Frobenius norm for a matrix), summed in index order. */
export function norm(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** Norm of each row of a count-by-m row-major array. */
export function rowNorms(vectors: Float64Array, count: number, m: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += vectors[i * m + k] ** 2;
    out[i] = Math.sqrt(s);
  }
  return out;
}
