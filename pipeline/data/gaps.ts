/**
 * The gaps of data/generate.ts as integer thresholds: generatePoints draws a gap
 * floor(log(U / 2^53) / log S) from uniformPositive() = U / 2^53, and the engines that draw
 * online batches themselves (the GPU's points.wgsl, the fast kernel's drawPoints) find the same
 * gap, capped at n, by counting thresholds below the draw's integer instead of taking a log,
 * which neither has bit for bit as V8 has it.
 */
export const TWO53 = 2 ** 53;

/** The CPU's gap for uniformPositive() = U / 2^53, by the very expression of generate.ts. */
export function gapOf(U: number, sparsity: number): number {
  return Math.floor(Math.log(U / TWO53) / Math.log(sparsity));
}

/**
 * U_k for k = 1..n: the largest integer U in [1, 2^53] with gapOf(U) >= k, or 0 if there is none.
 * gapOf is non-increasing in U, so gap >= k exactly when U <= U_k, and min(gap, n) is the number
 * of k with U <= U_k. Each U_k is checked at its boundary: gapOf(U_k) >= k > gapOf(U_k + 1).
 */
export function gapThresholds(n: number, sparsity: number): Float64Array {
  if (!(sparsity > 0 && sparsity < 1)) throw new RangeError(`gap thresholds need 0 < S < 1, not ${sparsity}`);
  const out = new Float64Array(n);
  let hiBound = TWO53 - 1; // gapOf(2^53) = 0 < k, so U_k < 2^53
  for (let k = 1; k <= n; k++) {
    if (gapOf(1, sparsity) < k) break; // no U reaches gap k: U_k (and all after) = 0
    // largest U in [1, hiBound] with gapOf(U) >= k; gapOf(1) >= k
    let lo = 1;
    let hi = hiBound;
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      if (gapOf(mid, sparsity) >= k) lo = mid;
      else hi = mid - 1;
    }
    if (!(gapOf(lo, sparsity) >= k) || !(gapOf(lo + 1, sparsity) < k)) {
      throw new Error(`gap thresholds: log(U / 2^53) / log(${sparsity}) is not monotone near U = ${lo} (k = ${k})`);
    }
    out[k - 1] = lo;
    hiBound = lo;
  }
  return out;
}

/**
 * The thresholds on the draw X = 2^53 - U (uniform() = X / 2^53), ascending: T_k = 2^53 - U_k for
 * k = 1..n, so that gap >= k exactly when X >= T_k (T_k = 2^53, beyond every draw, when no U has gap k)
 * and min(gap, n) is the number of k with T_k <= X. Integers, exact in float64.
 */
export const drawThresholds = (n: number, sparsity: number): Float64Array => gapThresholds(n, sparsity).map((u) => TWO53 - u);

/** Bits of the draw X that pick a bucket of drawTables: 2,048 buckets. */
export const BUCKET_BITS = 11;

/**
 * What a kernel needs to find min(gap, n) from the draw X with integer comparisons alone: the
 * thresholds of drawThresholds as u64; and per bucket b of the draws (X >> (53 - BUCKET_BITS) = b) the number of
 * thresholds at or below its first draw, where the count of X starts. The thresholds after that
 * one lie in X's bucket: n / 2,048 of them on average over the draws, whatever S is.
 */
export function drawTables(n: number, sparsity: number): { thresholds: BigUint64Array; buckets: Uint32Array } {
  const T = drawThresholds(n, sparsity);
  const buckets = new Uint32Array(2 ** BUCKET_BITS);
  const width = 2 ** (53 - BUCKET_BITS);
  let k = 0;
  for (let b = 0; b < buckets.length; b++) {
    while (k < n && T[k] <= b * width) k++;
    buckets[b] = k;
  }
  return { thresholds: BigUint64Array.from(T, (t) => BigInt(t)), buckets };
}
