// The CSC of a batch of points on the device (for online batches, which arrive as CSR): for each
// feature, its entries in point order, as the training kernels' `csc` buffer
// [colPtr (n + 1) | perm (entry numbers from the batch's first) | row (point of each)].
// Deterministic: the counts are integer atomics (their sums do not depend on order), entries are
// first placed in any order and then each is moved to its rank among its feature's entries
// (entry numbers ascend with the points), so the result is the one CSC of the batch.

struct TDims { n: u32, B: u32, cap: u32, cscPerm: u32, cscRow: u32, pad0: u32, pad1: u32, pad2: u32, }
struct StepRec { s: u32, rowBase: u32, lossSlot: u32, pad: u32, }

@group(0) @binding(0) var<storage, read> rowPtr: array<u32>;
@group(0) @binding(1) var<storage, read> col: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>; // counts (n) | cursors (n)
@group(0) @binding(3) var<storage, read_write> csc: array<u32>;
@group(0) @binding(4) var<storage, read_write> tmp: array<u32>; // entry (cap) | point (cap)
@group(0) @binding(5) var<uniform> td: TDims;
@group(1) @binding(0) var<uniform> step: StepRec;

@compute @workgroup_size(64)
fn clear(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < 2u * td.n) { atomicStore(&counts[gid.x], 0u); }
}

@compute @workgroup_size(64)
fn count(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t >= td.B) { return; }
  for (var q = rowPtr[step.rowBase + t]; q < rowPtr[step.rowBase + t + 1u]; q++) {
    atomicAdd(&counts[col[q]], 1u);
  }
}

var<workgroup> blockSum: array<u32, 256>;

// colPtr: exclusive prefix sums of the counts (one workgroup; thread l a contiguous block of features).
@compute @workgroup_size(256)
fn scan(@builtin(local_invocation_index) lid: u32) {
  let n = td.n;
  let per = (n + 255u) / 256u;
  let j0 = min(n, lid * per);
  let j1 = min(n, j0 + per);
  var s = 0u;
  for (var j = j0; j < j1; j++) { s += atomicLoad(&counts[j]); }
  blockSum[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var acc = 0u;
    for (var l = 0u; l < 256u; l++) {
      let c = blockSum[l];
      blockSum[l] = acc;
      acc += c;
    }
    csc[n] = acc;
  }
  workgroupBarrier();
  var at = blockSum[lid];
  for (var j = j0; j < j1; j++) {
    csc[j] = at;
    at += atomicLoad(&counts[j]);
  }
}

@compute @workgroup_size(64)
fn fill(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t >= td.B) { return; }
  let qb = rowPtr[step.rowBase];
  for (var q = rowPtr[step.rowBase + t]; q < rowPtr[step.rowBase + t + 1u]; q++) {
    let j = col[q];
    let p = csc[j] + atomicAdd(&counts[td.n + j], 1u);
    tmp[p] = q - qb;
    tmp[td.cap + p] = t;
  }
}

@compute @workgroup_size(64)
fn rank(@builtin(global_invocation_id) gid: vec3u) {
  let p = gid.x;
  let qb = rowPtr[step.rowBase];
  let nnz = rowPtr[step.rowBase + td.B] - qb;
  if (p >= nnz) { return; }
  let q = tmp[p];
  let j = col[qb + q];
  let lo = csc[j];
  let hi = csc[j + 1u];
  var r = 0u;
  for (var e = lo; e < hi; e++) {
    if (tmp[e] < q) { r++; }
  }
  csc[td.cscPerm + lo + r] = q;
  csc[td.cscRow + lo + r] = tmp[td.cap + p];
}
