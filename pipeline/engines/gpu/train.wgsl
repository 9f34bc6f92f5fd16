// The training kernels of the gpu engine (engine.ts): one full-batch step of the toy model
// (pipeline/model/toy-model.ts) with AdamW (pipeline/optim/adamw.ts) in float32, for every init of
// a group at once (workgroup id z = init). The host prepends the constants M (hidden size),
// F (features per thread of the dense pass), PB (points per block of the dense pass) and WG.
//
// A step, for a batch of T points cut into segments (one, unless T * m is very large):
//   per segment:  hidden  h_t = W x_t                               (a thread per point)
//                 dense   every (feature, point) pair with x taken as 0: r = ReLU(b + W_i . h_t),
//                         partial sums of G_W, G_b (per range of points) and of dL/dh (per tile
//                         of features) into the work buffer; the loss (WITH_LOSS)
//                 point   dL/dh_t = the tiles' partials summed in tile order, then the active
//                         features of t corrected in CSR order (x_j = v, not 0): dd_q per entry
//                 sparse  (every segment but the last) the entries of the segment, per feature in
//                         point order (CSC), into G_S
//   update  per feature: G = (sum over ranges of the dense partials + G_S + the last segment's
//           entries in point order) * 2/T, then AdamW with the step's constants (consts[s])
//   loss    (only at the steps whose loss is asked) the dense partials and the per-point
//           corrections, summed in a fixed order, / T
// Every sum has one fixed order (sequential loops or fixed trees), and there are no float atomics:
// a step's bits depend on the data, the state and the device's arithmetic only.
//
// Layouts (floats, per init): P = [W row 0 (n) | ... | W row M-1 | b] (so a feature's
// weights are M loads n apart, coalesced across threads), the moments MV = [M (like P) | V];
// work = the sections at the dims offsets. Points: CSR rowPtr/col/val, the step's batch starting
// at rowPtr[step.rowBase] (entries of the batch are numbered from rowPtr[step.rowBase]);
// csc = [colPtr (n + 1) | perm (the batch's entry numbers by feature, in point order) | row].

//!CONSTANTS

override WITH_LOSS: bool = false;

struct Dims {
  n: u32, T: u32, nTiles: u32, R: u32,
  RL: u32, segLen: u32, nSeg: u32, pStride: u32,
  wStride: u32, oH: u32, oGH: u32, oGHp: u32,
  oGWp: u32, oDD: u32, oFix: u32, oLossP: u32,
  oGS: u32, oGrad: u32, initBase: u32, totalInits: u32,
  cscPerm: u32, cscRow: u32, scale: f32, Tf: f32,
  beta1: f32, beta2: f32, eps: f32, pad0: u32,
  pad1: u32, pad2: u32, pad3: u32, pad4: u32,
}

struct StepRec { s: u32, rowBase: u32, lossSlot: u32, pad: u32, }
struct SegRec { t0: u32, len: u32, index: u32, last: u32, }

@group(0) @binding(0) var<storage, read_write> P: array<f32>;
@group(0) @binding(1) var<storage, read_write> MV: array<f32>;
@group(0) @binding(2) var<storage, read_write> work: array<f32>;
@group(0) @binding(3) var<storage, read> rowPtr: array<u32>;
@group(0) @binding(4) var<storage, read> col: array<u32>;
@group(0) @binding(5) var<storage, read> val: array<f32>;
@group(0) @binding(6) var<storage, read> csc: array<u32>;
@group(0) @binding(7) var<storage, read> consts: array<f32>;
@group(0) @binding(8) var<storage, read_write> losses: array<f32>;
@group(0) @binding(9) var<uniform> dims: Dims;
@group(1) @binding(0) var<uniform> step: StepRec;
@group(1) @binding(1) var<uniform> seg: SegRec;

const PBM: u32 = PB * M;
const RED: u32 = PBM + 1u; // a thread's row of dL/dh partials, padded: writes (stride RED) and reads (stride 1) hit distinct banks

// ---- hidden: h_t = W x_t over the point's active features, in CSR order ----
@compute @workgroup_size(64)
fn hidden(@builtin(global_invocation_id) gid: vec3u) {
  let u = gid.x;
  if (u >= seg.len) { return; }
  let z = gid.z;
  let n = dims.n;
  let pb = (dims.initBase + z) * dims.pStride;
  let t = seg.t0 + u;
  let q0 = rowPtr[step.rowBase + t];
  let q1 = rowPtr[step.rowBase + t + 1u];
  var h: array<f32, M>;
  for (var k = 0u; k < M; k++) { h[k] = 0.0; }
  for (var q = q0; q < q1; q++) {
    let j = col[q];
    let v = val[q];
    for (var k = 0u; k < M; k++) { h[k] = h[k] + P[pb + k * n + j] * v; }
  }
  let o = z * dims.wStride + dims.oH + u * M;
  for (var k = 0u; k < M; k++) { work[o + k] = h[k]; }
}

// ---- dense: a tile of WG * F features (thread lid: features tile0 + a * WG + lid) by a range of
// RL points (blocks of PB), workgroup (tile, range, init) ----
var<workgroup> hs: array<f32, PBM>;
var<workgroup> red: array<f32, WG * RED>;
var<workgroup> lred: array<f32, WG>;

@compute @workgroup_size(WG)
fn dense(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x;
  let range = wid.y;
  let z = wid.z;
  let n = dims.n;
  let pb = (dims.initBase + z) * dims.pStride;
  let wb = z * dims.wStride;
  var w: array<f32, F * M>;
  var bb: array<f32, F>;
  var gw: array<f32, F * M>;
  var gb: array<f32, F>;
  for (var a = 0u; a < F; a++) {
    let i = tile * (WG * F) + a * WG + lid;
    if (i < n) {
      for (var k = 0u; k < M; k++) { w[a * M + k] = P[pb + k * n + i]; }
      bb[a] = P[pb + M * n + i];
    } else {
      // a feature past n: W = 0, b = -1 gives r = 0, so it adds nothing anywhere
      for (var k = 0u; k < M; k++) { w[a * M + k] = 0.0; }
      bb[a] = -1.0;
    }
    for (var k = 0u; k < M; k++) { gw[a * M + k] = 0.0; }
    gb[a] = 0.0;
  }
  var lossT = 0.0;
  let p0 = range * dims.RL;
  let p1 = min(seg.len, p0 + dims.RL);
  let ghOut = wb + dims.oGHp + tile * dims.segLen * M;
  for (var blk = p0; blk < p1; blk += PB) {
    let cnt = min(PB, p1 - blk);
    for (var e = lid; e < cnt * M; e += WG) { hs[e] = work[wb + dims.oH + blk * M + e]; }
    workgroupBarrier();
    var lossB = 0.0;
    for (var j = 0u; j < cnt; j++) {
      var gh: array<f32, M>;
      for (var k = 0u; k < M; k++) { gh[k] = 0.0; }
      for (var a = 0u; a < F; a++) {
        var zz = bb[a];
        for (var k = 0u; k < M; k++) { zz = zz + w[a * M + k] * hs[j * M + k]; }
        let r = max(zz, 0.0);
        if (WITH_LOSS) { lossB = lossB + r * r; }
        gb[a] = gb[a] + r;
        for (var k = 0u; k < M; k++) {
          gw[a * M + k] = gw[a * M + k] + r * hs[j * M + k];
          gh[k] = gh[k] + r * w[a * M + k];
        }
      }
      for (var k = 0u; k < M; k++) { red[lid * RED + j * M + k] = gh[k]; }
    }
    lossT = lossT + lossB;
    workgroupBarrier();
    // dL/dh of the block's points over this tile: the threads' partials in thread order
    for (var o = lid; o < cnt * M; o += WG) {
      var s = red[o];
      for (var l = 1u; l < WG; l++) { s = s + red[l * RED + o]; }
      work[ghOut + blk * M + o] = s;
    }
    workgroupBarrier();
  }
  // G_W and G_b of this range: rows k of W, then b (row M); later segments add theirs
  let gOut = wb + dims.oGWp + range * (M + 1u) * n;
  for (var a = 0u; a < F; a++) {
    let i = tile * (WG * F) + a * WG + lid;
    if (i < n) {
      if (seg.index == 0u) {
        for (var k = 0u; k < M; k++) { work[gOut + k * n + i] = gw[a * M + k]; }
        work[gOut + M * n + i] = gb[a];
      } else {
        for (var k = 0u; k < M; k++) { work[gOut + k * n + i] = work[gOut + k * n + i] + gw[a * M + k]; }
        work[gOut + M * n + i] = work[gOut + M * n + i] + gb[a];
      }
    }
  }
  if (WITH_LOSS) {
    lred[lid] = lossT;
    workgroupBarrier();
    if (lid == 0u) {
      var s = lred[0];
      for (var l = 1u; l < WG; l++) { s = s + lred[l]; }
      let o = wb + dims.oLossP + range * dims.nTiles + tile;
      if (seg.index == 0u) { work[o] = s; } else { work[o] = work[o] + s; }
    }
  }
}

// ---- point: dL/dh_t (the tiles' partials, then the corrections at the active features) ----
@compute @workgroup_size(64)
fn point(@builtin(global_invocation_id) gid: vec3u) {
  let u = gid.x;
  if (u >= seg.len) { return; }
  let z = gid.z;
  let n = dims.n;
  let pb = (dims.initBase + z) * dims.pStride;
  let wb = z * dims.wStride;
  let t = seg.t0 + u;
  var g: array<f32, M>;
  var h: array<f32, M>;
  let ghp = wb + dims.oGHp + u * M;
  for (var k = 0u; k < M; k++) {
    var s = work[ghp + k];
    for (var tile = 1u; tile < dims.nTiles; tile++) { s = s + work[ghp + tile * dims.segLen * M + k]; }
    g[k] = s;
    h[k] = work[wb + dims.oH + u * M + k];
  }
  let qb = rowPtr[step.rowBase];
  let q0 = rowPtr[step.rowBase + t];
  let q1 = rowPtr[step.rowBase + t + 1u];
  var fix = 0.0;
  for (var q = q0; q < q1; q++) {
    let j = col[q];
    let v = val[q];
    // z as the dense pass computed it (the same operations in the same order)
    var zz = P[pb + M * n + j];
    for (var k = 0u; k < M; k++) { zz = zz + P[pb + k * n + j] * h[k]; }
    var d = 0.0;
    if (zz > 0.0) {
      let r = zz - v;
      fix = fix + (r * r - zz * zz);
      d = r - zz;
      for (var k = 0u; k < M; k++) { g[k] = g[k] + d * P[pb + k * n + j]; }
    } else {
      fix = fix + v * v;
    }
    work[wb + dims.oDD + (q - qb)] = d;
  }
  for (var k = 0u; k < M; k++) { work[wb + dims.oGH + u * M + k] = g[k]; }
  work[wb + dims.oFix + t] = fix;
}

// The entries of feature j whose points lie in [t0, t1), as CSC positions [lo, hi): rows ascend
// within a feature, so two binary searches.
fn lowerBound(a: u32, b: u32, t: u32) -> u32 {
  var lo = a;
  var hi = b;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (csc[dims.cscRow + mid] < t) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo;
}

// The sparse share of feature j's gradient from the current segment's entries, added to g in point order.
fn addEntries(j: u32, z: u32, g: ptr<function, array<f32, M + 1u>>) {
  let wb = z * dims.wStride;
  let qb = rowPtr[step.rowBase];
  var c0 = csc[j];
  var c1 = csc[j + 1u];
  if (dims.nSeg > 1u) {
    if (seg.index > 0u) { c0 = lowerBound(c0, c1, seg.t0); }
    if (seg.last == 0u) { c1 = lowerBound(c0, c1, seg.t0 + seg.len); }
  }
  for (var c = c0; c < c1; c++) {
    let q = csc[dims.cscPerm + c];
    let u = csc[dims.cscRow + c] - seg.t0;
    let d = work[wb + dims.oDD + q];
    let v = val[qb + q];
    for (var k = 0u; k < M; k++) {
      (*g)[k] = ((*g)[k] + d * work[wb + dims.oH + u * M + k]) + work[wb + dims.oGH + u * M + k] * v;
    }
    (*g)[M] = (*g)[M] + d;
  }
}

// ---- sparse: every segment but the last, per feature: G_S (+)= the segment's entries ----
@compute @workgroup_size(64)
fn sparse(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let n = dims.n;
  if (j >= n) { return; }
  let z = gid.z;
  let o = z * dims.wStride + dims.oGS;
  var g: array<f32, M + 1u>;
  for (var k = 0u; k <= M; k++) {
    if (seg.index == 0u) { g[k] = 0.0; } else { g[k] = work[o + k * n + j]; }
  }
  addEntries(j, z, &g);
  for (var k = 0u; k <= M; k++) { work[o + k * n + j] = g[k]; }
}

// Feature j's whole gradient (rows k of W, then b at M), scaled by 2/T.
fn gradientOf(j: u32, z: u32) -> array<f32, M + 1u> {
  let n = dims.n;
  let wb = z * dims.wStride;
  var g: array<f32, M + 1u>;
  for (var k = 0u; k <= M; k++) {
    var s = work[wb + dims.oGWp + k * n + j];
    for (var r = 1u; r < dims.R; r++) { s = s + work[wb + dims.oGWp + (r * (M + 1u) + k) * n + j]; }
    if (dims.nSeg > 1u) { s = s + work[wb + dims.oGS + k * n + j]; }
    g[k] = s;
  }
  addEntries(j, z, &g);
  for (var k = 0u; k <= M; k++) { g[k] = g[k] * dims.scale; }
  return g;
}

// ---- update: the gradient, then AdamW (PyTorch's order) with step s's constants ----
@compute @workgroup_size(64)
fn update(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let n = dims.n;
  if (j >= n) { return; }
  let z = gid.z;
  let g = gradientOf(j, z);
  let c = step.s * 8u;
  let lr = consts[c];
  let c1 = consts[c + 3u];
  let c2 = consts[c + 4u];
  let b1 = dims.beta1;
  let b2 = dims.beta2;
  let pb = (dims.initBase + z) * dims.pStride;
  let mb = (dims.initBase + z) * 2u * dims.pStride;
  for (var k = 0u; k <= M; k++) {
    var decay = consts[c + 1u];
    if (k == M) { decay = consts[c + 2u]; }
    let i = k * n + j;
    let gk = g[k];
    let m1 = b1 * MV[mb + i] + (1.0 - b1) * gk;
    let v1 = b2 * MV[mb + dims.pStride + i] + (1.0 - b2) * (gk * gk);
    MV[mb + i] = m1;
    MV[mb + dims.pStride + i] = v1;
    let stepSize = (lr * (m1 / c1)) / (sqrt(v1 / c2) + dims.eps);
    P[pb + i] = P[pb + i] * decay - stepSize;
  }
}

// ---- gradientOut: the gradient alone, into the work buffer's grad section (for conformance checks) ----
@compute @workgroup_size(64)
fn gradientOut(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let n = dims.n;
  if (j >= n) { return; }
  let z = gid.z;
  let g = gradientOf(j, z);
  let o = z * dims.wStride + dims.oGrad;
  for (var k = 0u; k <= M; k++) { work[o + k * n + j] = g[k]; }
}

// ---- loss: the dense partials and the per-point corrections, compensated sums in a fixed order ----
var<workgroup> lsum: array<f32, 64>;
var<workgroup> lcmp: array<f32, 64>;

@compute @workgroup_size(64)
fn loss(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let z = wid.z;
  let wb = z * dims.wStride;
  var s = 0.0;
  var c = 0.0;
  let parts = dims.R * dims.nTiles;
  for (var e = lid; e < parts; e += 64u) {
    let y = work[wb + dims.oLossP + e] - c;
    let t = s + y;
    c = (t - s) - y;
    s = t;
  }
  for (var e = lid; e < dims.T; e += 64u) {
    let y = work[wb + dims.oFix + e] - c;
    let t = s + y;
    c = (t - s) - y;
    s = t;
  }
  lsum[lid] = s;
  lcmp[lid] = c;
  workgroupBarrier();
  if (lid == 0u) {
    var s2 = 0.0;
    var c2 = 0.0;
    for (var l = 0u; l < 64u; l++) {
      let y = (lsum[l] - lcmp[l]) - c2;
      let t = s2 + y;
      c2 = (t - s2) - y;
      s2 = t;
    }
    losses[step.lossSlot * dims.totalInits + dims.initBase + z] = s2 / dims.Tf;
  }
}
