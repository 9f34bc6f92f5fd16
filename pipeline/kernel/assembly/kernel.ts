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

/**
 * Scratch of one point, at h: h (m floats), dL/dh (m floats) at h + 4m, then m lane
 * accumulators of denseM (16 bytes each) at h + lanesAt(m), 16-aligned.
 */
@inline function lanesAt(m: i32): usize {
  return (<usize>m * 8 + 15) & ~<usize>15;
}
@inline function slotBytes(m: i32): usize {
  return lanesAt(m) + (<usize>m << 4);
}

/** Bytes of scratch chunkGradient uses at `h`: two points' slots. The host asks for it, so the two never disagree. */
export function scratchBytes(m: i32): i32 {
  return <i32>(slotBytes(m) * 2);
}

/**
 * Loss and gradient of points t0..t1-1, written into G (overwritten); returns the summed
 * squared error (not divided by T). G holds the gradient divided by 2/T: the factor is
 * applied once, when the chunks are reduced. `h`: scratchBytes(m) bytes of scratch.
 *
 * The dense pass over features treats x as 0: then x' - x = ReLU(z) and the gradient of
 * the squared error wrt z is 2 ReLU(z), with no branch. The few active features are
 * corrected after it. For m = 2, points go two at a time, sharing the loads of W and b and
 * the read-modify-write of G; other m take the same pairs with one dense pass per point
 * (the order of the additions into G is part of the result). (Skipping blocks where ReLU
 * is 0 was measured slower: the branch costs more than it saves, since trained models keep
 * many features active.)
 * ReLU is f32x4.pmax(0, z): one instruction on x86 and ARM, where f32x4.max's NaN and
 * signed-zero rules cost several (measured: the whole pass 1.5x faster). The two agree
 * except for NaN, which pmax maps to 0; the trainer checks the parameters themselves.
 * With `withLoss` false the m = 2 dense pass skips the loss (the returned value is then
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
  for (; t + 1 < t1; t += 2) {
    hidden(P, rowBytes, m, rowPtr, col, val, t, h);
    hidden(P, rowBytes, m, rowPtr, col, val, t + 1, hb);
    total += denseM(P, G, rowBytes, m, h) + denseM(P, G, rowBytes, m, hb);
    total += correct(P, G, rowBytes, m, rowPtr, col, val, t, h);
    total += correct(P, G, rowBytes, m, rowPtr, col, val, t + 1, hb);
    encode(G, rowBytes, m, rowPtr, col, val, t, h);
    encode(G, rowBytes, m, rowPtr, col, val, t + 1, hb);
  }
  if (t < t1) {
    hidden(P, rowBytes, m, rowPtr, col, val, t, h);
    total += denseM(P, G, rowBytes, m, h);
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

/** The dense pass of one point for any m; leaves dL/dh (dense share, unscaled) at h + 4m. */
function denseM(P: usize, G: usize, rowBytes: usize, m: i32, h: usize): f64 {
  const zero = f32x4.splat(0);
  const bP = P + rowBytes * <usize>m, bG = G + rowBytes * <usize>m;
  const a = h + lanesAt(m); // m lane accumulators
  memory.fill(a, 0, <usize>m << 4);
  let l = zero;
  for (let o: usize = 0; o < rowBytes; o += 16) {
    let z = v128.load(bP + o);
    for (let k = 0; k < m; k++) z = f32x4.add(z, f32x4.mul(v128.load(P + rowBytes * <usize>k + o), f32x4.splat(load<f32>(h + (<usize>k << 2)))));
    const r = f32x4.pmax(zero, z);
    l = f32x4.add(l, f32x4.mul(r, r));
    v128.store(bG + o, f32x4.add(v128.load(bG + o), r));
    for (let k = 0; k < m; k++) {
      const gw = G + rowBytes * <usize>k + o;
      v128.store(gw, f32x4.add(v128.load(gw), f32x4.mul(r, f32x4.splat(load<f32>(h + (<usize>k << 2))))));
      const ak = a + (<usize>k << 4);
      v128.store(ak, f32x4.add(v128.load(ak), f32x4.mul(r, v128.load(P + rowBytes * <usize>k + o))));
    }
  }
  for (let k = 0; k < m; k++) store<f32>(h + (<usize>(m + k) << 2), hsum(v128.load(a + (<usize>k << 4))));
  return <f64>hsum(l);
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

/**
 * AdamW over floats [from, to) of P, with gradient G and moments M, V (PyTorch's order):
 *   p <- p * (1 - lr*wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
 *   p <- p - lr * (m / c1) / (sqrt(v / c2) + eps),   c1 = 1 - b1^t, c2 = 1 - b2^t
 */
export function adamw(P: usize, G: usize, M: usize, V: usize, from: usize, to: usize, lr: f32, decay: f32, b1: f32, b2: f32, c1: f32, c2: f32, eps: f32): void {
  const vb1 = f32x4.splat(b1), vb1c = f32x4.splat(1 - b1);
  const vb2 = f32x4.splat(b2), vb2c = f32x4.splat(1 - b2);
  const vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2);
  const vlr = f32x4.splat(lr), vdecay = f32x4.splat(decay), veps = f32x4.splat(eps);
  for (let o: usize = from << 2; o < to << 2; o += 16) {
    const g = v128.load(G + o);
    const m = f32x4.add(f32x4.mul(vb1, v128.load(M + o)), f32x4.mul(vb1c, g));
    const v = f32x4.add(f32x4.mul(vb2, v128.load(V + o)), f32x4.mul(vb2c, f32x4.mul(g, g)));
    v128.store(M + o, m);
    v128.store(V + o, v);
    const step = f32x4.div(f32x4.mul(vlr, f32x4.div(m, vc1)), f32x4.add(f32x4.sqrt(f32x4.div(v, vc2)), veps));
    v128.store(P + o, f32x4.sub(f32x4.mul(v128.load(P + o), vdecay), step));
  }
}
