// The fused training kernel, in AssemblyScript, compiled to WebAssembly with SIMD.
// It computes what pipeline/model/toy-model.ts `lossAndGradient` computes (the readable
// definition, float64) in float32, four features per instruction, and AdamW as
// pipeline/optim/adamw.ts does. No fused multiply-add and no relaxed SIMD: every operation
// is an IEEE float32 operation, so the result is the same bits on every machine.
//
// Memory (byte offsets into a shared memory laid out by pipeline/kernel/session-memory.ts):
//   params P, gradients G, moments M and V: [W row 0 | ... | W row m-1 | b], each row nPad
//   float32 (features padded to a multiple of 4 with W = 0, b = 0, which stay 0).
//   Points: CSR rowPtr (u32), col (u32), val (f32). Scratch: scratchBytes(m) per thread.
//
// The dense pass costs m multiply-adds per feature and point three times over (z = W^T h,
// G += r h^T, dL/dh = W r). It runs either as dense2x2 (m = 2, everything in registers) or
// as denseBlocked (every other m: rows in small blocks, so that the cost grows as m).

/**
 * Features of one tile of denseBlocked, in bytes: 512 features. A tile's z (two points) and
 * its stretch of W and G stay in the L1 cache between that pass's loops over it. The tile
 * changes no result: every sum still runs over the features in order.
 */
const TILE: usize = 2048;

/**
 * Scratch of one point, at h: h (m floats), dL/dh (m floats) at h + 4m, then m lane
 * accumulators of dL/dh (16 bytes each) at h + lanesAt(m), 16-aligned.
 */
@inline function lanesAt(m: i32): usize {
  return (<usize>m * 8 + 15) & ~<usize>15;
}
@inline function slotBytes(m: i32): usize {
  return lanesAt(m) + (<usize>m << 4);
}

/**
 * Bytes of scratch chunkGradient uses at `h`: two points' slots, then denseBlocked's z (or r)
 * of one tile for each of the two points, then its two loss accumulators; rounded up with at
 * least 64 bytes to spare, so that the threads' scratches, laid end to end, never share a
 * cache line. The host asks for it, so the two never disagree.
 */
export function scratchBytes(m: i32): i32 {
  return <i32>((slotBytes(m) * 2 + TILE * 2 + 32 + 64 + 63) & ~<usize>63);
}

/**
 * Loss and gradient of points t0..t1-1, written into G (overwritten); returns the summed
 * squared error (not divided by T). G holds the gradient divided by 2/T: the factor is
 * applied once, when the chunks are reduced. `h`: scratchBytes(m) bytes of scratch.
 *
 * The dense pass over features treats x as 0: then x' - x = ReLU(z) and the gradient of
 * the squared error wrt z is 2 ReLU(z), with no branch. The few active features are
 * corrected after it. Points go two at a time, sharing the loads of W and b and the
 * read-modify-write of G: for m = 2 through dense2x2 (with hidden2 and correctAndEncode2,
 * everything in locals), for every other m through denseBlocked. A chunk's odd last point
 * goes alone, through denseBlocked. (The order of the additions into G is part of the
 * result.) (Skipping blocks where ReLU is 0 was measured slower: the branch costs more than
 * it saves, since trained models keep many features active.)
 * ReLU is f32x4.pmax(0, z): one instruction on x86 and ARM, where f32x4.max's NaN and
 * signed-zero rules cost several (measured: the whole pass 1.5x faster). The two agree
 * except for NaN, which pmax maps to 0; the trainer checks the parameters themselves.
 * With `withLoss` false the dense pass skips the loss (the returned value is then
 * meaningless); training asks for it only at the steps its loss curve samples.
 */
export function chunkGradient(P: usize, G: usize, nPad: i32, m: i32, rowPtr: usize, col: usize, val: usize, t0: i32, t1: i32, h: usize, withLoss: bool): f64 {
  const rowBytes = <usize>nPad << 2;
  memory.fill(G, 0, rowBytes * <usize>(m + 1));
  const hb = h + slotBytes(m); // the second point's scratch
  let total: f64 = 0;
  let t = t0;
  if (m == 2) {
    for (; t + 1 < t1; t += 2) {
      hidden2(P, rowBytes, rowPtr, col, val, t, h);
      hidden2(P, rowBytes, rowPtr, col, val, t + 1, hb);
      total += withLoss ? dense2x2(P, G, rowBytes, h, hb, true) : dense2x2(P, G, rowBytes, h, hb, false);
      total += correctAndEncode2(P, G, rowBytes, rowPtr, col, val, t, h);
      total += correctAndEncode2(P, G, rowBytes, rowPtr, col, val, t + 1, hb);
    }
  }
  if (m == 3) {
    for (; t + 1 < t1; t += 2) {
      hidden(P, rowBytes, m, rowPtr, col, val, t, h);
      hidden(P, rowBytes, m, rowPtr, col, val, t + 1, hb);
      total += withLoss ? dense3x2(P, G, rowBytes, h, hb, true) : dense3x2(P, G, rowBytes, h, hb, false);
      total += correct(P, G, rowBytes, m, rowPtr, col, val, t, h);
      total += correct(P, G, rowBytes, m, rowPtr, col, val, t + 1, hb);
      encode(G, rowBytes, m, rowPtr, col, val, t, h);
      encode(G, rowBytes, m, rowPtr, col, val, t + 1, hb);
    }
  }
  for (; t + 1 < t1; t += 2) {
    hidden(P, rowBytes, m, rowPtr, col, val, t, h);
    hidden(P, rowBytes, m, rowPtr, col, val, t + 1, hb);
    total += withLoss ? denseBlocked<Two, Yes>(P, G, rowBytes, m, h, hb) : denseBlocked<Two, No>(P, G, rowBytes, m, h, hb);
    total += correct(P, G, rowBytes, m, rowPtr, col, val, t, h);
    total += correct(P, G, rowBytes, m, rowPtr, col, val, t + 1, hb);
    encode(G, rowBytes, m, rowPtr, col, val, t, h);
    encode(G, rowBytes, m, rowPtr, col, val, t + 1, hb);
  }
  if (t < t1) {
    hidden(P, rowBytes, m, rowPtr, col, val, t, h);
    total += withLoss ? denseBlocked<One, Yes>(P, G, rowBytes, m, h, hb) : denseBlocked<One, No>(P, G, rowBytes, m, h, hb);
    total += correct(P, G, rowBytes, m, rowPtr, col, val, t, h);
    encode(G, rowBytes, m, rowPtr, col, val, t, h);
  }
  return total;
}

/** h = W x_t over the active features, into h[0..m). */
@inline function hidden(P: usize, rowBytes: usize, m: i32, rowPtr: usize, col: usize, val: usize, t: i32, h: usize): void {
  const q0 = load<u32>(rowPtr + (<usize>t << 2));
  const q1 = load<u32>(rowPtr + (<usize>(t + 1) << 2));
  for (let k = 0; k < m; k++) store<f32>(h + (<usize>k << 2), 0);
  for (let q = q0; q < q1; q++) {
    const j = <usize>load<u32>(col + (<usize>q << 2)) << 2;
    const v = load<f32>(val + (<usize>q << 2));
    for (let k = 0; k < m; k++) {
      const hk = h + (<usize>k << 2);
      store<f32>(hk, load<f32>(hk) + load<f32>(P + rowBytes * <usize>k + j) * v);
    }
  }
}

/** hidden() for m = 2, with h in locals. The same operations in the same order. */
@inline function hidden2(P: usize, rowBytes: usize, rowPtr: usize, col: usize, val: usize, t: i32, h: usize): void {
  const q0 = load<u32>(rowPtr + (<usize>t << 2));
  const q1 = load<u32>(rowPtr + (<usize>(t + 1) << 2));
  let h0: f32 = 0, h1: f32 = 0;
  for (let q = q0; q < q1; q++) {
    const j = <usize>load<u32>(col + (<usize>q << 2)) << 2;
    const v = load<f32>(val + (<usize>q << 2));
    h0 = h0 + load<f32>(P + j) * v;
    h1 = h1 + load<f32>(P + rowBytes + j) * v;
  }
  store<f32>(h, h0);
  store<f32>(h, h1, 4);
}

/** correct() then encode() for m = 2, with h and dL/dh in locals. The same operations in the same order. */
@inline function correctAndEncode2(P: usize, G: usize, rowBytes: usize, rowPtr: usize, col: usize, val: usize, t: i32, h: usize): f64 {
  const P1 = P + rowBytes, bP = P1 + rowBytes;
  const G1 = G + rowBytes, bG = G1 + rowBytes;
  const q0 = load<u32>(rowPtr + (<usize>t << 2));
  const q1 = load<u32>(rowPtr + (<usize>(t + 1) << 2));
  const h0 = load<f32>(h), h1 = load<f32>(h, 4);
  let g0 = load<f32>(h, 8), g1 = load<f32>(h, 12);
  let fix: f64 = 0;
  for (let q = q0; q < q1; q++) {
    const jo = <usize>load<u32>(col + (<usize>q << 2)) << 2;
    const v = load<f32>(val + (<usize>q << 2));
    const w0 = load<f32>(P + jo), w1 = load<f32>(P1 + jo);
    const z = (load<f32>(bP + jo) + w0 * h0) + w1 * h1;
    if (z > 0) {
      const r = z - v;
      fix += <f64>(r * r) - <f64>(z * z);
      const dd = r - z;
      store<f32>(bG + jo, load<f32>(bG + jo) + dd);
      store<f32>(G + jo, load<f32>(G + jo) + dd * h0);
      g0 = g0 + dd * w0;
      store<f32>(G1 + jo, load<f32>(G1 + jo) + dd * h1);
      g1 = g1 + dd * w1;
    } else {
      fix += <f64>(v * v);
    }
  }
  for (let q = q0; q < q1; q++) {
    const jo = <usize>load<u32>(col + (<usize>q << 2)) << 2;
    const v = load<f32>(val + (<usize>q << 2));
    store<f32>(G + jo, load<f32>(G + jo) + g0 * v);
    store<f32>(G1 + jo, load<f32>(G1 + jo) + g1 * v);
  }
  return fix;
}

/**
 * The active features of point t (x_j = v), where the dense pass assumed x_j = 0: fixes the
 * loss, G and the dL/dh at h + 4m. Returns the loss correction.
 */
@inline function correct(P: usize, G: usize, rowBytes: usize, m: i32, rowPtr: usize, col: usize, val: usize, t: i32, h: usize): f64 {
  const bP = P + rowBytes * <usize>m;
  const bG = G + rowBytes * <usize>m;
  const q0 = load<u32>(rowPtr + (<usize>t << 2));
  const q1 = load<u32>(rowPtr + (<usize>(t + 1) << 2));
  let fix: f64 = 0;
  for (let q = q0; q < q1; q++) {
    const jo = <usize>load<u32>(col + (<usize>q << 2)) << 2;
    const v = load<f32>(val + (<usize>q << 2));
    // the same operations in the same order as the dense pass: the same z
    let z = load<f32>(bP + jo);
    for (let k = 0; k < m; k++) z = z + load<f32>(P + rowBytes * <usize>k + jo) * load<f32>(h + (<usize>k << 2));
    if (z > 0) {
      const r = z - v;
      fix += <f64>(r * r) - <f64>(z * z);
      const dd = r - z;
      store<f32>(bG + jo, load<f32>(bG + jo) + dd);
      for (let k = 0; k < m; k++) {
        const gw = G + rowBytes * <usize>k + jo;
        store<f32>(gw, load<f32>(gw) + dd * load<f32>(h + (<usize>k << 2)));
        const gk = h + (<usize>(m + k) << 2);
        store<f32>(gk, load<f32>(gk) + dd * load<f32>(P + rowBytes * <usize>k + jo));
      }
    } else {
      fix += <f64>(v * v);
    }
  }
  return fix;
}

/** Encoder path: dL/dW_j += (dL/dh) x_j at the active features of point t. */
@inline function encode(G: usize, rowBytes: usize, m: i32, rowPtr: usize, col: usize, val: usize, t: i32, h: usize): void {
  const q0 = load<u32>(rowPtr + (<usize>t << 2));
  const q1 = load<u32>(rowPtr + (<usize>(t + 1) << 2));
  for (let q = q0; q < q1; q++) {
    const jo = <usize>load<u32>(col + (<usize>q << 2)) << 2;
    const v = load<f32>(val + (<usize>q << 2));
    for (let k = 0; k < m; k++) {
      const gw = G + rowBytes * <usize>k + jo;
      store<f32>(gw, load<f32>(gw) + load<f32>(h + (<usize>(m + k) << 2)) * v);
    }
  }
}

// Lanes summed in one fixed order.
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** The dense pass of two points (hidden vectors at ha and hb) for m = 2; returns their dense loss. */
@inline function dense2x2(P: usize, G: usize, rowBytes: usize, ha: usize, hb: usize, withLoss: bool): f64 {
  const zero = f32x4.splat(0);
  const a0 = f32x4.splat(load<f32>(ha)), a1 = f32x4.splat(load<f32>(ha, 4));
  const b0 = f32x4.splat(load<f32>(hb)), b1 = f32x4.splat(load<f32>(hb, 4));
  let ga0 = zero, ga1 = zero, gb0 = zero, gb1 = zero, la = zero, lb = zero;
  const P1 = P + rowBytes, G1 = G + rowBytes, bP = P1 + rowBytes, bG = G1 + rowBytes;
  for (let o: usize = 0; o < rowBytes; o += 16) {
    const w0 = v128.load(P + o);
    const w1 = v128.load(P1 + o);
    const bias = v128.load(bP + o);
    const ra = f32x4.pmax(zero, f32x4.add(f32x4.add(bias, f32x4.mul(w0, a0)), f32x4.mul(w1, a1)));
    const rb = f32x4.pmax(zero, f32x4.add(f32x4.add(bias, f32x4.mul(w0, b0)), f32x4.mul(w1, b1)));
    if (withLoss) {
      la = f32x4.add(la, f32x4.mul(ra, ra));
      lb = f32x4.add(lb, f32x4.mul(rb, rb));
    }
    v128.store(bG + o, f32x4.add(f32x4.add(v128.load(bG + o), ra), rb));
    v128.store(G + o, f32x4.add(f32x4.add(v128.load(G + o), f32x4.mul(ra, a0)), f32x4.mul(rb, b0)));
    v128.store(G1 + o, f32x4.add(f32x4.add(v128.load(G1 + o), f32x4.mul(ra, a1)), f32x4.mul(rb, b1)));
    ga0 = f32x4.add(ga0, f32x4.mul(ra, w0));
    ga1 = f32x4.add(ga1, f32x4.mul(ra, w1));
    gb0 = f32x4.add(gb0, f32x4.mul(rb, w0));
    gb1 = f32x4.add(gb1, f32x4.mul(rb, w1));
  }
  store<f32>(ha, hsum(ga0), 8);
  store<f32>(ha, hsum(ga1), 12);
  store<f32>(hb, hsum(gb0), 8);
  store<f32>(hb, hsum(gb1), 12);
  return <f64>hsum(la) + <f64>hsum(lb);
}

/**
 * The dense pass of two points for m = 3, everything in one loop over the features: the same
 * operations in the same order as denseBlocked<Two> at m = 3 (z = ((b + w0 h0) + w1 h1) + w2 h2;
 * bG + r_a + r_b; G_k + r_a h_ak + r_b h_bk; the dL/dh and loss lanes in feature order), so the
 * same bits, without its four trips through the tile's z buffers. (Fourteen vectors live across
 * the loop with the loss, twelve without: a few spill, measured still faster than the blocks.)
 */
@inline function dense3x2(P: usize, G: usize, rowBytes: usize, ha: usize, hb: usize, withLoss: bool): f64 {
  const zero = f32x4.splat(0);
  const a0 = v128.load32_splat(ha), a1 = v128.load32_splat(ha, 4), a2 = v128.load32_splat(ha, 8);
  const b0 = v128.load32_splat(hb), b1 = v128.load32_splat(hb, 4), b2 = v128.load32_splat(hb, 8);
  let ga0 = zero, ga1 = zero, ga2 = zero, gb0 = zero, gb1 = zero, gb2 = zero, la = zero, lb = zero;
  const P1 = P + rowBytes, P2 = P1 + rowBytes, bP = P2 + rowBytes;
  const G1 = G + rowBytes, G2 = G1 + rowBytes, bG = G2 + rowBytes;
  for (let o: usize = 0; o < rowBytes; o += 16) {
    const w0 = v128.load(P + o), w1 = v128.load(P1 + o), w2 = v128.load(P2 + o);
    const bias = v128.load(bP + o);
    const ra = f32x4.pmax(zero, fold(fold(fold(bias, w0, a0), w1, a1), w2, a2));
    const rb = f32x4.pmax(zero, fold(fold(fold(bias, w0, b0), w1, b1), w2, b2));
    if (withLoss) {
      la = fold(la, ra, ra);
      lb = fold(lb, rb, rb);
    }
    v128.store(bG + o, f32x4.add(f32x4.add(v128.load(bG + o), ra), rb));
    v128.store(G + o, fold(fold(v128.load(G + o), ra, a0), rb, b0));
    v128.store(G1 + o, fold(fold(v128.load(G1 + o), ra, a1), rb, b1));
    v128.store(G2 + o, fold(fold(v128.load(G2 + o), ra, a2), rb, b2));
    ga0 = fold(ga0, ra, w0);
    ga1 = fold(ga1, ra, w1);
    ga2 = fold(ga2, ra, w2);
    gb0 = fold(gb0, rb, w0);
    gb1 = fold(gb1, rb, w1);
    gb2 = fold(gb2, rb, w2);
  }
  store<f32>(ha, hsum(ga0), 12);
  store<f32>(ha, hsum(ga1), 16);
  store<f32>(ha, hsum(ga2), 20);
  store<f32>(hb, hsum(gb0), 12);
  store<f32>(hb, hsum(gb1), 16);
  store<f32>(hb, hsum(gb2), 20);
  return <f64>hsum(la) + <f64>hsum(lb);
}

// ---- denseBlocked: the dense pass for every m but 2 ----
//
// Per tile of features, the rows of W in blocks, each block one loop over the tile:
//   1. z = b + W^T h, four rows per loop, into the tile's z buffers (point a's at z, b's at
//      z + TILE), leaving the last one to four rows for
//   2. one loop that adds them and writes r = ReLU(z) over z, with the loss and the bias
//      gradient;
//   3. two rows per loop: G += r h^T and dL/dh += r W.
// Each loop keeps its accumulators, h's and row pointers in registers, so that a row costs
// about what it costs in m = 2's pass and the whole grows as m. (The one-point pass this
// replaced kept m lane accumulators in memory and re-broadcast h on every block: it ran at a
// third of this speed at m = 4 and 8.) Two rows per loop in 3: four were measured slower
// (8 accumulators and 8 h's do not fit in the 16 vector registers). Four rows per loop in 1:
// fewer trips through the z buffers. (Fusing 2 with 3's loop for the last two rows, as
// dense2x2 does, was no faster.)
// Every sum runs in the order of a plain pass over the features, point by point: z adds the
// rows in order k = 0..m-1, as correct() does, so both see the same z; dL/dh sums by lane
// over the features in order (tile after tile), then across lanes with hsum; G adds point
// a's term, then b's.
//
// Each loop's shape is a type argument, so that each shape is compiled as a loop of its own:
// rows per loop R and points per pass N are numbers, num<T>(); Last (step 2) and L (sum the
// loss) are switches, on<T>(). (Constant arguments of inlined functions were not enough: the
// optimizer merged such copies back into one loop that tests them at run time, measured
// slower.)
// N = One: the point at ha alone, a chunk's odd last point; the b half of every loop drops out.
type One = u8;
type Two = u16;
type Four = u32;
type Yes = i8;
type No = u8;
@inline function num<T>(): i32 {
  return <i32>sizeof<T>();
}
@inline function on<T>(): bool {
  return isSigned<T>();
}

/** a + r * w. */
@inline function fold(a: v128, r: v128, w: v128): v128 {
  return f32x4.add(a, f32x4.mul(r, w));
}

/** z + w0 h0 (+ w1 h1 (+ w2 h2 + w3 h3)), left to right, for R = 1, 2 or 4 rows. */
@inline function zFold<R>(z: v128, w0: v128, h0: v128, w1: v128, h1: v128, w2: v128, h2: v128, w3: v128, h3: v128): v128 {
  z = fold(z, w0, h0);
  if (num<R>() > 1) z = fold(z, w1, h1);
  if (num<R>() > 2) z = fold(fold(z, w2, h2), w3, h3);
  return z;
}

/**
 * Steps 1 and 2 for R rows of W starting at W (this tile), their h's at ha and hb: z = src +
 * the rows' terms w h_k, in order (point a's from srcA into z, b's from srcB into z + TILE).
 * With Last (step 2): r = ReLU(z) goes there instead, with r added into the bias gradient bG
 * and, with L, r^2 into the loss lanes at `loss` (a's, then b's).
 */
@inline function zRows<R, N, Last, L>(W: usize, rowBytes: usize, ha: usize, hb: usize, srcA: usize, srcB: usize, z: usize, len: usize, bG: usize, loss: usize): void {
  const zero = f32x4.splat(0);
  const a0 = v128.load32_splat(ha), b0 = v128.load32_splat(hb);
  const a1 = num<R>() > 1 ? v128.load32_splat(ha, 4) : a0, b1 = num<R>() > 1 ? v128.load32_splat(hb, 4) : b0;
  const a2 = num<R>() > 2 ? v128.load32_splat(ha, 8) : a0, b2 = num<R>() > 2 ? v128.load32_splat(hb, 8) : b0;
  const a3 = num<R>() > 2 ? v128.load32_splat(ha, 12) : a0, b3 = num<R>() > 2 ? v128.load32_splat(hb, 12) : b0;
  const W1 = W + rowBytes, W2 = W1 + rowBytes, W3 = W2 + rowBytes;
  let la = on<L>() ? v128.load(loss) : zero, lb = on<L>() ? v128.load(loss, 16) : zero;
  for (let i: usize = 0; i < len; i += 16) {
    const w0 = v128.load(W + i);
    const w1 = num<R>() > 1 ? v128.load(W1 + i) : w0;
    const w2 = num<R>() > 2 ? v128.load(W2 + i) : w0, w3 = num<R>() > 2 ? v128.load(W3 + i) : w0;
    let za = zFold<R>(v128.load(srcA + i), w0, a0, w1, a1, w2, a2, w3, a3);
    let zb = num<N>() > 1 ? zFold<R>(v128.load(srcB + i), w0, b0, w1, b1, w2, b2, w3, b3) : zero;
    if (on<Last>()) {
      za = f32x4.pmax(zero, za);
      if (num<N>() > 1) zb = f32x4.pmax(zero, zb);
      if (on<L>()) {
        la = fold(la, za, za);
        if (num<N>() > 1) lb = fold(lb, zb, zb);
      }
      const bg = f32x4.add(v128.load(bG + i), za);
      v128.store(bG + i, num<N>() > 1 ? f32x4.add(bg, zb) : bg);
    }
    v128.store(z + i, za);
    if (num<N>() > 1) v128.store(z + i, zb, TILE);
  }
  if (on<L>()) {
    v128.store(loss, la);
    v128.store(loss, lb, 16);
  }
}

/**
 * Step 3 for R (1 or 2) rows of W (this tile at W, its G at G), given r at rA and
 * rA + TILE: G += r h^T, and the dL/dh lanes at A (point a's) and B (b's) += r W.
 */
@inline function gradRows<R, N>(W: usize, G: usize, rowBytes: usize, ha: usize, hb: usize, rA: usize, len: usize, A: usize, B: usize): void {
  const a0 = v128.load32_splat(ha), a1 = num<R>() > 1 ? v128.load32_splat(ha, 4) : a0;
  const b0 = v128.load32_splat(hb), b1 = num<R>() > 1 ? v128.load32_splat(hb, 4) : b0;
  const W1 = W + rowBytes, G1 = G + rowBytes;
  let ga0 = v128.load(A), ga1 = v128.load(A, 16), gb0 = v128.load(B), gb1 = v128.load(B, 16);
  for (let i: usize = 0; i < len; i += 16) {
    const ra = v128.load(rA + i), rb = num<N>() > 1 ? v128.load(rA + i, TILE) : ra;
    const w0 = v128.load(W + i), w1 = num<R>() > 1 ? v128.load(W1 + i) : w0;
    const g0 = fold(v128.load(G + i), ra, a0);
    v128.store(G + i, num<N>() > 1 ? fold(g0, rb, b0) : g0);
    if (num<R>() > 1) {
      const g1 = fold(v128.load(G1 + i), ra, a1);
      v128.store(G1 + i, num<N>() > 1 ? fold(g1, rb, b1) : g1);
    }
    ga0 = fold(ga0, ra, w0);
    if (num<R>() > 1) ga1 = fold(ga1, ra, w1);
    if (num<N>() > 1) {
      gb0 = fold(gb0, rb, w0);
      if (num<R>() > 1) gb1 = fold(gb1, rb, w1);
    }
  }
  v128.store(A, ga0);
  if (num<R>() > 1) v128.store(A, ga1, 16);
  if (num<N>() > 1) {
    v128.store(B, gb0);
    if (num<R>() > 1) v128.store(B, gb1, 16);
  }
}

/**
 * The dense pass of N points (hidden vectors at ha and hb; N = One: ha alone) for any m:
 * leaves dL/dh (dense share, unscaled) at h + 4m of each and returns their dense loss.
 * Steps 1-3 above, tile after tile.
 */
function denseBlocked<N, L>(P: usize, G: usize, rowBytes: usize, m: i32, ha: usize, hb: usize): f64 {
  const mm = <usize>m;
  const bP = P + rowBytes * mm, bG = G + rowBytes * mm;
  const aa = ha + lanesAt(m), ab = hb + lanesAt(m); // dL/dh lanes
  const z = hb + slotBytes(m), loss = z + TILE * 2; // point a's z at z, b's at z + TILE
  memory.fill(aa, 0, mm << 4);
  memory.fill(ab, 0, mm << 4);
  memory.fill(loss, 0, 32);
  for (let t0: usize = 0; t0 < rowBytes; t0 += TILE) {
    const len = min(TILE, rowBytes - t0);
    const Pt = P + t0, Gt = G + t0, bGt = bG + t0;
    // steps 1 and 2: z from b, four rows per loop; the last one to four rows with ReLU
    let srcA = bP + t0, srcB = srcA, k: usize = 0;
    for (; mm - k > 4; k += 4, srcA = z, srcB = z + TILE) {
      zRows<Four, N, No, No>(Pt + rowBytes * k, rowBytes, ha + (k << 2), hb + (k << 2), srcA, srcB, z, len, bGt, loss);
    }
    if (mm - k == 3) {
      zRows<Two, N, No, No>(Pt + rowBytes * k, rowBytes, ha + (k << 2), hb + (k << 2), srcA, srcB, z, len, bGt, loss);
      k += 2;
      srcA = z;
      srcB = z + TILE;
    }
    const Wk = Pt + rowBytes * k, hak = ha + (k << 2), hbk = hb + (k << 2);
    if (mm - k == 4) zRows<Four, N, Yes, L>(Wk, rowBytes, hak, hbk, srcA, srcB, z, len, bGt, loss);
    else if (mm - k == 2) zRows<Two, N, Yes, L>(Wk, rowBytes, hak, hbk, srcA, srcB, z, len, bGt, loss);
    else zRows<One, N, Yes, L>(Wk, rowBytes, hak, hbk, srcA, srcB, z, len, bGt, loss);
    // step 3: G and dL/dh, two rows at a time
    for (k = 0; k + 2 <= mm; k += 2) gradRows<Two, N>(Pt + rowBytes * k, Gt + rowBytes * k, rowBytes, ha + (k << 2), hb + (k << 2), z, len, aa + (k << 4), ab + (k << 4));
    if (k < mm) gradRows<One, N>(Pt + rowBytes * k, Gt + rowBytes * k, rowBytes, ha + (k << 2), hb + (k << 2), z, len, aa + (k << 4), ab + (k << 4));
  }
  for (let k: usize = 0; k < mm; k++) {
    store<f32>(ha + ((mm + k) << 2), hsum(v128.load(aa + (k << 4))));
    if (num<N>() > 1) store<f32>(hb + ((mm + k) << 2), hsum(v128.load(ab + (k << 4))));
  }
  const lossA = <f64>hsum(v128.load(loss));
  return num<N>() > 1 ? lossA + <f64>hsum(v128.load(loss, 16)) : lossA;
}

/**
 * Sums the chunks' gradients in chunk order into the first chunk's buffer and applies the
 * factor 2/T, for floats [from, to) of the flat layout. `stride`: bytes between chunks.
 */
export function reduceChunks(G0: usize, stride: usize, chunks: i32, from: usize, to: usize, scale: f32): void {
  const s4 = f32x4.splat(scale);
  for (let o: usize = from << 2; o < to << 2; o += 16) {
    let s = v128.load(G0 + o);
    for (let c = 1; c < chunks; c++) s = f32x4.add(s, v128.load(G0 + stride * <usize>c + o));
    v128.store(G0 + o, f32x4.mul(s, s4));
  }
}

// ---- A run's steps: every init of a run in one pass, the steps of a span in one call ----
//
// A context (session-memory.ts writes it; CTX_* are its byte offsets, mirrored there) says
// where a run's buffers lie. Init i has its P, M, V at P0 + i * initStride (M and V follow P,
// `bytes` apart); chunk c's gradient of init i is at G0 + c * chunkStride + i * bytes; thread
// k's scratch at scratch0 + k * scratchBytes; chunk c's loss of init i (f64) at
// losses + 8 (c * inits + i); init i's step count and running powers of the betas (f64 each)
// at state + 24 i, and its step's AdamW coefficients (f32) at coef + 16 i. Each init's
// arithmetic is exactly that of a run of its own: its chunks are the same, its buffers are its
// own, and AdamW's coefficients are computed in float64 as the host computed them (then
// rounded to float32 as the host's call rounded them).
//
// A step: beginStep (the coefficients), the chunks (chunkAll), then the units of the update
// (finishUnit: the chunks summed and AdamW, over UNIT_FLOATS floats of one init; elementwise,
// so how the floats are cut changes no bit), then with a loss stepLosses. On several threads
// the chunks and then the units are taken from one counter (claimChunks).

const CTX_INITS = 0, CTX_NPAD = 4, CTX_M = 8, CTX_T = 12, CTX_CHUNKS = 16, CTX_ROWPTR = 20, CTX_COL = 24, CTX_VAL = 28;
const CTX_P0 = 32, CTX_INIT_STRIDE = 36, CTX_G0 = 40, CTX_CHUNK_STRIDE = 44, CTX_SCRATCH0 = 48, CTX_SCRATCH_BYTES = 52;
const CTX_LOSSES = 56, CTX_WITH_LOSS = 60, CTX_NEXT = 64, CTX_DONE = 68, CTX_FLOATS = 72, CTX_BIAS = 76, CTX_DECAY_BIAS = 80, CTX_STATE = 84;
const CTX_BETA1 = 88, CTX_BETA2 = 96, CTX_EPS = 104, CTX_WD = 112;
const CTX_UNITS = 120, CTX_UNITS_DONE = 124, CTX_COEF = 128;
/** Floats of one init in one unit of the update (a multiple of 4). */
const UNIT_FLOATS = 1024;

/** Chunk c of the loaded points for every init, in thread `thread`'s scratch: gradients into each init's chunk-c buffer, losses into the loss table. */
export function chunkAll(ctx: usize, c: i32, thread: i32): void {
  const inits = load<i32>(ctx, CTX_INITS), T = load<i32>(ctx, CTX_T), chunks = load<i32>(ctx, CTX_CHUNKS);
  const nPad = load<i32>(ctx, CTX_NPAD), m = load<i32>(ctx, CTX_M);
  const rowPtr = <usize>load<u32>(ctx, CTX_ROWPTR), col = <usize>load<u32>(ctx, CTX_COL), val = <usize>load<u32>(ctx, CTX_VAL);
  const stride = <usize>load<u32>(ctx, CTX_INIT_STRIDE), bytes = <usize>load<i32>(ctx, CTX_FLOATS) << 2;
  const G = <usize>load<u32>(ctx, CTX_G0) + <usize>load<u32>(ctx, CTX_CHUNK_STRIDE) * <usize>c;
  const h = <usize>load<u32>(ctx, CTX_SCRATCH0) + <usize>load<u32>(ctx, CTX_SCRATCH_BYTES) * <usize>thread;
  const losses = <usize>load<u32>(ctx, CTX_LOSSES) + ((<usize>c * <usize>inits) << 3);
  const withLoss = load<i32>(ctx, CTX_WITH_LOSS) != 0;
  // floor(c T / chunks), as the host's chunkStart was
  const t0 = <i32>((<i64>c * <i64>T) / <i64>chunks), t1 = <i32>((<i64>(c + 1) * <i64>T) / <i64>chunks);
  let P = <usize>load<u32>(ctx, CTX_P0);
  for (let i = 0; i < inits; i++, P += stride) {
    store<f64>(losses + (<usize>i << 3), chunkGradient(P, G + bytes * <usize>i, nPad, m, rowPtr, col, val, t0, t1, h, withLoss));
  }
}

/** Units of the update of every init: the host sets CTX_UNITS to this for a step (0 for a pass of chunks alone). */
export function stepUnits(ctx: usize): i32 {
  const floats = load<i32>(ctx, CTX_FLOATS);
  return load<i32>(ctx, CTX_INITS) * ((floats + UNIT_FLOATS - 1) / UNIT_FLOATS);
}

/**
 * Takes work of the step from the counter at CTX_NEXT (reset by the host when it opens a
 * step) until none is left: indices below the chunk count are chunks (chunkAll in this
 * thread's scratch, counted at CTX_DONE), the next CTX_UNITS are units of the update, each
 * begun once every chunk is done (runUnit). The last chunk wakes whoever waits on CTX_DONE.
 * Any thread may take any index: its bits do not depend on the thread.
 *
 * Returns -1 when no work is left, or a unit taken whose chunks are still being computed by
 * other threads after a short spin: the caller waits (Atomics.wait on CTX_DONE, in JS), runs it
 * with runUnit and calls again. (Never memory.atomic.wait here: on Node 20's V8 a wasm wait
 * inside this loop was measured to corrupt the update's results now and then.)
 */
export function claimChunks(ctx: usize, thread: i32): i32 {
  for (;;) {
    const c = atomic.add<i32>(ctx + CTX_NEXT, 1);
    // read after the claim: a claim of the host's next step sees that step's context
    const chunks = atomic.load<i32>(ctx + CTX_CHUNKS), units = atomic.load<i32>(ctx + CTX_UNITS);
    if (c < chunks) {
      chunkAll(ctx, c, thread);
      if (atomic.add<i32>(ctx + CTX_DONE, 1) + 1 == chunks) atomic.notify(ctx + CTX_DONE, -1);
      continue;
    }
    if (c >= chunks + units) return -1;
    let spins = 0;
    while (atomic.load<i32>(ctx + CTX_DONE) < chunks) if (++spins > 20000) return c - chunks;
    runUnit(ctx, c - chunks);
  }
  return -1; // not reached
}

/** Unit u of the step's update (every chunk being done), counted at CTX_UNITS_DONE; the last wakes the host. */
export function runUnit(ctx: usize, u: i32): void {
  finishUnit(ctx, u);
  if (atomic.add<i32>(ctx + CTX_UNITS_DONE, 1) + 1 == atomic.load<i32>(ctx + CTX_UNITS)) atomic.notify(ctx + CTX_UNITS_DONE, -1);
}

/**
 * Over floats [from, to): the chunks' gradients summed in chunk order times `scale` (2/T), as
 * reduceChunks sums them, then AdamW with that gradient g (PyTorch's order):
 *   p <- p * (1 - lr*wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
 *   p <- p - lr * (m / c1) / (sqrt(v / c2) + eps),   c1 = 1 - b1^t, c2 = 1 - b2^t
 * (Once two kernel calls, reduceChunks then adamw, through G: the same operations in the
 * same order, g being float32 either way.)
 */
@inline function reduceAdamw(G0: usize, stride: usize, chunks: i32, scale: f32, P: usize, M: usize, V: usize, from: usize, to: usize, lr: f32, decay: f32, b1: f32, b2: f32, c1: f32, c2: f32, eps: f32): void {
  const s4 = f32x4.splat(scale);
  const vb1 = f32x4.splat(b1), vb1c = f32x4.splat(1 - b1);
  const vb2 = f32x4.splat(b2), vb2c = f32x4.splat(1 - b2);
  const vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2);
  const vlr = f32x4.splat(lr), vdecay = f32x4.splat(decay), veps = f32x4.splat(eps);
  for (let o: usize = from << 2; o < to << 2; o += 16) {
    let s = v128.load(G0 + o);
    for (let c = 1; c < chunks; c++) s = f32x4.add(s, v128.load(G0 + stride * <usize>c + o));
    const g = f32x4.mul(s, s4);
    const m = f32x4.add(f32x4.mul(vb1, v128.load(M + o)), f32x4.mul(vb1c, g));
    const v = f32x4.add(f32x4.mul(vb2, v128.load(V + o)), f32x4.mul(vb2c, f32x4.mul(g, g)));
    v128.store(M + o, m);
    v128.store(V + o, v);
    const step = f32x4.div(f32x4.mul(vlr, f32x4.div(m, vc1)), f32x4.add(f32x4.sqrt(f32x4.div(v, vc2)), veps));
    v128.store(P + o, f32x4.sub(f32x4.mul(v128.load(P + o), vdecay), step));
  }
}

/**
 * Begins a step of every init at rate lr: its step count and powers of the betas move on,
 * and its AdamW coefficients (lr, decay of W, decay of b, 1 - beta1^t, 1 - beta2^t as
 * float32) go to its row of the coefficient table.
 */
export function beginStep(ctx: usize, lr: f64): void {
  const inits = load<i32>(ctx, CTX_INITS), decayBias = load<i32>(ctx, CTX_DECAY_BIAS) != 0;
  const state = <usize>load<u32>(ctx, CTX_STATE), coef = <usize>load<u32>(ctx, CTX_COEF);
  const beta1 = load<f64>(ctx, CTX_BETA1), beta2 = load<f64>(ctx, CTX_BETA2);
  const decay = <f32>(1 - lr * load<f64>(ctx, CTX_WD));
  for (let i = 0; i < inits; i++) {
    const s = state + <usize>i * 24, k = coef + <usize>i * 20;
    const beta1Power = load<f64>(s, 8) * beta1, beta2Power = load<f64>(s, 16) * beta2;
    store<f64>(s, load<f64>(s) + 1);
    store<f64>(s, beta1Power, 8);
    store<f64>(s, beta2Power, 16);
    store<f32>(k, <f32>lr);
    store<f32>(k, decay, 4);
    store<f32>(k, decayBias ? decay : 1, 8);
    store<f32>(k, <f32>(1 - beta1Power), 12);
    store<f32>(k, <f32>(1 - beta2Power), 16);
  }
}

/** Unit u of the update (stepUnits): init u / perInit's chunks summed (factor 2/T) and AdamW, over its stretch of UNIT_FLOATS floats. */
export function finishUnit(ctx: usize, u: i32): void {
  const floats = load<i32>(ctx, CTX_FLOATS), perInit = (floats + UNIT_FLOATS - 1) / UNIT_FLOATS;
  const i = u / perInit, from = (u - i * perInit) * UNIT_FLOATS, to = min(floats, from + UNIT_FLOATS);
  const bias = load<i32>(ctx, CTX_BIAS), chunks = load<i32>(ctx, CTX_CHUNKS);
  const bytes = <usize>floats << 2, chunkStride = <usize>load<u32>(ctx, CTX_CHUNK_STRIDE);
  const b1 = <f32>load<f64>(ctx, CTX_BETA1), b2 = <f32>load<f64>(ctx, CTX_BETA2), eps = <f32>load<f64>(ctx, CTX_EPS);
  const scale = <f32>(2.0 / <f64>load<i32>(ctx, CTX_T));
  const k = <usize>load<u32>(ctx, CTX_COEF) + <usize>i * 20;
  const lr = load<f32>(k), decayW = load<f32>(k, 4), decayB = load<f32>(k, 8), c1 = load<f32>(k, 12), c2 = load<f32>(k, 16);
  const P = <usize>load<u32>(ctx, CTX_P0) + <usize>load<u32>(ctx, CTX_INIT_STRIDE) * <usize>i, M = P + bytes, V = M + bytes;
  const G = <usize>load<u32>(ctx, CTX_G0) + bytes * <usize>i;
  const mid = max(from, min(to, bias));
  if (mid > from) reduceAdamw(G, chunkStride, chunks, scale, P, M, V, <usize>from, <usize>mid, lr, decayW, b1, b2, c1, c2, eps);
  if (to > mid) reduceAdamw(G, chunkStride, chunks, scale, P, M, V, <usize>mid, <usize>to, lr, decayB, b1, b2, c1, c2, eps);
}

/** Init i's loss of the step (its chunks' losses summed in chunk order, / T) at lossOut + 8 i. */
export function stepLosses(ctx: usize, lossOut: usize): void {
  const inits = load<i32>(ctx, CTX_INITS), T = load<i32>(ctx, CTX_T), chunks = load<i32>(ctx, CTX_CHUNKS);
  const losses = <usize>load<u32>(ctx, CTX_LOSSES);
  for (let i = 0; i < inits; i++) {
    let total: f64 = 0;
    for (let c = 0; c < chunks; c++) total += load<f64>(losses + ((<usize>c * <usize>inits + <usize>i) << 3));
    store<f64>(lossOut + (<usize>i << 3), total / <f64>T);
  }
}

/**
 * Steps from..to-1 of every init on this thread alone: step s at rate schedule[s] (f64),
 * its loss computed when withLoss[s - from] (a byte) is not 0, written for init i at
 * lossOut + 8 ((s - from) inits + i).
 */
export function trainSteps(ctx: usize, schedule: usize, from: i32, to: i32, withLoss: usize, lossOut: usize): void {
  const chunks = load<i32>(ctx, CTX_CHUNKS), inits = <usize>load<i32>(ctx, CTX_INITS), units = stepUnits(ctx);
  for (let s = from; s < to; s++) {
    const k = <usize>(s - from);
    const loss = load<u8>(withLoss + k) != 0;
    store<i32>(ctx, loss ? 1 : 0, CTX_WITH_LOSS);
    beginStep(ctx, load<f64>(schedule + (<usize>s << 3)));
    for (let c = 0; c < chunks; c++) chunkAll(ctx, c, 0);
    for (let u = 0; u < units; u++) finishUnit(ctx, u);
    if (loss) stepLosses(ctx, lossOut + ((k * inits) << 3));
  }
}

// ---- Online batches: the points drawn in the kernel ----

/** data/gaps.ts BUCKET_BITS. */
const BUCKET_BITS: u64 = 11;

/**
 * Draws `count` points into rowPtr/col/val exactly as data/generate.ts generatePoints draws
 * them from the xoshiro128** stream of prng/rng.ts (its four state words at `rng`, advanced
 * here): per point, a gap then a value per active feature until the gap passes feature n - 1,
 * drawn again while its values are all zero; the values scaled to unit length in float64, then
 * rounded to float32. Every operation is exact integer arithmetic or a correctly rounded float64
 * one, as in JavaScript, save the gap, floor(log(U / 2^53) / log S) there: here the count of
 * thresholds T_k <= X (`table`: n u64, ascending; the GPU counts the same thresholds), where
 * X = 2^53 - U is uniform()'s integer, counted on from `buckets` (2^BUCKET_BITS u32): both from
 * data/gaps.ts drawTables, which found the thresholds from that very expression, so the gaps
 * (capped at n, which ends a point either way) are the same. `pointVal`: n f64 of scratch.
 * Returns the active features drawn, or -1 if they would pass `cap` (the arrays and the state
 * are then spoiled: the host restores the state and calls again with room).
 * The generator's step is written out at each of its four uses, its state in locals: an inlined
 * step on module globals gave the same bits and ran 3-8% slower (T = infinity, S = 0.99-0.95).
 */
export function drawPoints(rng: usize, table: usize, buckets: usize, n: i32, count: i32, rowPtr: usize, col: usize, val: usize, cap: i32, pointVal: usize): i32 {
  let s0 = load<u32>(rng), s1 = load<u32>(rng, 4), s2 = load<u32>(rng, 8), s3 = load<u32>(rng, 12);
  let nnz = 0;
  store<u32>(rowPtr, 0);
  for (let t = 0; t < count; t++) {
    let active = 0;
    let sumSq: f64 = 0;
    do {
      active = 0;
      sumSq = 0;
      let j = -1;
      for (;;) {
        // X = uniform()'s integer: 27 bits of one output, then 26 of the next
        let r = rotl<u32>(s1 * 5, 7) * 9;
        let tt = s1 << 9;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= tt; s3 = rotl<u32>(s3, 11);
        const hi = <u64>(r >>> 5);
        r = rotl<u32>(s1 * 5, 7) * 9;
        tt = s1 << 9;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= tt; s3 = rotl<u32>(s3, 11);
        const X = (hi << 26) | <u64>(r >>> 6);
        // the gap, min(gap, n): how many thresholds lie at or below X, counted on from those
        // at or below the first draw of X's bucket
        let first = <i32>load<u32>(buckets + (<usize>(X >> (53 - BUCKET_BITS)) << 2));
        while (first < n && load<u64>(table + (<usize>first << 3)) <= X) first++;
        j += 1 + first;
        if (j >= n) break;
        // the value: uniform() in [0, 1)
        r = rotl<u32>(s1 * 5, 7) * 9;
        tt = s1 << 9;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= tt; s3 = rotl<u32>(s3, 11);
        const vhi = <f64>(r >>> 5);
        r = rotl<u32>(s1 * 5, 7) * 9;
        tt = s1 << 9;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= tt; s3 = rotl<u32>(s3, 11);
        const v = (vhi * 67108864 + <f64>(r >>> 6)) / 9007199254740992;
        if (nnz + active >= cap) return -1;
        store<u32>(col + (<usize>(nnz + active) << 2), <u32>j);
        store<f64>(pointVal + (<usize>active << 3), v);
        active++;
        sumSq += v * v;
      }
    } while (sumSq == 0);
    const norm = Math.sqrt(sumSq);
    for (let k = 0; k < active; k++) store<f32>(val + (<usize>(nnz + k) << 2), <f32>(load<f64>(pointVal + (<usize>k << 3)) / norm));
    nnz += active;
    store<u32>(rowPtr + (<usize>(t + 1) << 2), <u32>nnz);
  }
  store<u32>(rng, s0);
  store<u32>(rng, s1, 4);
  store<u32>(rng, s2, 8);
  store<u32>(rng, s3, 12);
  return nnz;
}
