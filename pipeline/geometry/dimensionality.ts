/**
 * Fractional dimensionality of each of `count` vectors in R^m (rows of `vectors`):
 *   D_i = ||v_i||^2 / sum_j (v_i_hat . v_j)^2
 * The denominator is v_i_hat^T G v_i_hat with G = sum_j v_j v_j^T, the m-by-m Gram matrix,
 * so the cost is O(count * m^2) rather than O(count^2 * m). A zero vector has dimensionality 0.
 */
export function fractionalDimensionality(vectors: Float64Array, count: number, m: number): Float64Array {
  const G = new Float64Array(m * m);
  for (let j = 0; j < count; j++) {
    const o = j * m;
    for (let a = 0; a < m; a++) for (let c = 0; c < m; c++) G[a * m + c] += vectors[o + a] * vectors[o + c];
  }
  const D = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * m;
    let sq = 0;
    for (let a = 0; a < m; a++) sq += vectors[o + a] * vectors[o + a];
    if (sq === 0) continue;
    let quad = 0; // v_i^T G v_i
    for (let a = 0; a < m; a++) {
      let row = 0;
      for (let c = 0; c < m; c++) row += G[a * m + c] * vectors[o + c];
      quad += vectors[o + a] * row;
    }
    // v_hat^T G v_hat = quad / sq, so D = sq / (quad / sq) = sq^2 / quad
    D[i] = quad > 0 ? (sq * sq) / quad : 0;
  }
  return D;
}
