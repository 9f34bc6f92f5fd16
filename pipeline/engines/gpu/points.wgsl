// Batches of the paper's sparse points, drawn on the device bit for bit as data/generate.ts
// `generatePoints` draws them from the xoshiro128** stream of prng/rng.ts. Prepended with
// softf64.wgsl. Per batch (see online.ts):
//   draw     (parallel)  the window of the next `window` 53-bit draws of the stream, each with its
//                        gap (via the host's threshold table) and whether it is zero;
//   then the parse, which finds where every point starts and how many active features it has
//   (rowPtr, the start of each point, the new stream state), either in parallel:
//     attempts (parallel)  for every position p of the window, the attempt that would start at p:
//                          where it ends, whether it is valid (not redrawn), its active features;
//     compose  (parallel, once per level above 0)  the same over radix^level consecutive attempts;
//     locate   (parallel)  one thread per point: the start of its valid attempt, by descending the
//                          levels from position 0, and rowPtr as the active features passed on the way;
//   or sequentially:
//     parse    (1 thread)  walks the window's gaps point after point;
//   values   (parallel)  one thread per point: columns, and the values normalised in float64.

struct Params {
  n: u32,
  hasGaps: u32,   // 0 when S = 0: no gap draws at all
  batch: u32,
  capacity: u32,  // of col and val
  window: u32,    // draws (pairs of 32-bit outputs) in the window, segments * segLen
  segLen: u32,    // draws per thread of `draw`
  segments: u32,
  parallel: u32,  // 1 when the parse is parallel (draw clears the marks)
}

const ZERO_DRAW: u32 = 0x80000000u; // in a code: the draw is exactly 0
const GAP_MASK: u32 = 0x7fffffffu;  // in a code: min(gap, n)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> stream: vec4<u32>;
@group(0) @binding(2) var<storage, read> jumps: array<vec4<u32>>;      // levels * 128 columns
@group(0) @binding(3) var<storage, read> gapTable: array<vec2<u32>>;   // n thresholds on the draw
@group(0) @binding(4) var<storage, read_write> segStates: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> draws: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read_write> codes: array<u32>;    // window + 2: two gaps of n past it
@group(0) @binding(7) var<storage, read_write> pointStart: array<u32>;
@group(0) @binding(8) var<storage, read_write> rowPtr: array<u32>;
@group(0) @binding(9) var<storage, read_write> col: array<u32>;
@group(0) @binding(10) var<storage, read_write> val: array<u32>; // float32 bits
@group(0) @binding(11) var<storage, read_write> flags: array<u32>;  // bit 0: capacity, bit 1: window
@group(0) @binding(14) var<uniform> chainLevel: ChainLevel;
// The attempt chain: for each level L and position p in [0, window], the radix^L attempts that follow
// one another from an attempt starting at p: (where the last ends, how many are valid, their active
// features, 0), at chain[L * (window + 1) + p]. An attempt running past the window counts INF valid
// attempts (so no descent passes it) and ends at `window`, whose own entry is (window, INF, 0, 0).
@group(0) @binding(15) var<storage, read_write> chain: array<vec4<u32>>;
// For each position p of the window, the highest level L whose chain entry at p is needed (0 for none
// above level 0): every position that some level-(L - 1) entry built jumps to (see compose). Cleared
// by draw. Position 0 (where every descent starts) and the window's end are built at every level.
@group(0) @binding(16) var<storage, read_write> marks: array<atomic<u32>>;

struct ChainLevel {
  level: u32,   // the level that compose builds
  levels: u32,  // levels 0 .. levels - 1
  radix: u32,   // attempts of level L + 1 per attempt of level L
  pad: u32,
}

const INF: u32 = 0x40000000u; // more valid attempts than any window holds; INF + INF fits in a u32

fn rotl(x: u32, k: u32) -> u32 {
  return (x << k) | (x >> (32u - k));
}

/** xoshiro128** (prng/rng.ts nextUint32). */
fn next32(s: ptr<function, vec4<u32>>) -> u32 {
  let s0 = (*s).x;
  let s1 = (*s).y;
  let s2 = (*s).z;
  let s3 = (*s).w;
  let result = rotl(s1 * 5u, 7u) * 9u;
  let t = s1 << 9u;
  let n2 = s2 ^ s0;
  let n3 = s3 ^ s1;
  *s = vec4<u32>(s0 ^ n3, s1 ^ n2, n2 ^ t, rotl(n3, 11u));
  return result;
}

/** The state advanced by 2^level segments: the GF(2)-linear jump, columns from the host. */
fn jump(level: u32, s: vec4<u32>) -> vec4<u32> {
  var r = vec4<u32>(0u, 0u, 0u, 0u);
  let base = level * 128u;
  for (var w = 0u; w < 4u; w = w + 1u) {
    var word = s[w];
    var b = 0u;
    while (word != 0u) {
      let skip = countTrailingZeros(word);
      b = b + skip;
      r = r ^ jumps[base + w * 32u + b];
      word = (word >> skip) >> 1u;
      b = b + 1u;
    }
  }
  return r;
}

/**
 * min(gap, n) for the draw X = hi * 2^26 + lo, where the CPU's gap is
 * floor(log(1 - X / 2^53) / log S): the number of thresholds T_k (k = 1..n, ascending) with X >= T_k.
 */
fn gapOf(hi: u32, lo: u32) -> u32 {
  var a = 0u;
  var b = params.n;
  while (a < b) {
    let mid = (a + b) >> 1u;
    let t = gapTable[mid];
    if (t.x < hi || (t.x == hi && t.y <= lo)) {
      a = mid + 1u;
    } else {
      b = mid;
    }
  }
  return a;
}

@compute @workgroup_size(64)
fn draw(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i > params.segments) { return; }
  var st = stream;
  var level = 0u;
  var rest = i;
  while (rest != 0u) {
    if ((rest & 1u) != 0u) { st = jump(level, st); }
    rest = rest >> 1u;
    level = level + 1u;
  }
  segStates[i] = st;
  if (i == params.segments) { return; }
  let first = i * params.segLen;
  if (params.parallel != 0u) {
    for (var q = 0u; q < params.segLen; q = q + 1u) { atomicStore(&marks[first + q], 0u); }
  }
  for (var q = 0u; q < params.segLen; q = q + 1u) {
    let hi = next32(&st) >> 5u;
    let lo = next32(&st) >> 6u;
    draws[first + q] = vec2<u32>(hi, lo);
    var code = select(0u, ZERO_DRAW, (hi | lo) == 0u);
    if (params.hasGaps != 0u) { code = code | gapOf(hi, lo); }
    codes[first + q] = code;
  }
}

@compute @workgroup_size(1)
fn parse() {
  let n = params.n;
  let w = params.window;
  let hasGaps = params.hasGaps != 0u;
  var p = 0u;       // the next draw of the window
  var total = 0u;   // active features so far
  var exhausted = false;
  rowPtr[0] = 0u;
  for (var t = 0u; t < params.batch; t = t + 1u) {
    var start = p;
    var nActive = 0u;
    if (!exhausted) {
      loop {
        // one attempt at point t; it is redrawn if every value is zero (or there is none)
        start = p;
        nActive = 0u;
        var nonzero = false;
        var pos = 0u; // the next feature index (j + 1 in generate.ts)
        loop {
          if (hasGaps) {
            if (p >= w) { exhausted = true; break; }
            pos = pos + (codes[p] & GAP_MASK);
            p = p + 1u;
          }
          if (pos >= n) { break; }
          if (p >= w) { exhausted = true; break; }
          nonzero = nonzero || (codes[p] & ZERO_DRAW) == 0u;
          p = p + 1u;
          pos = pos + 1u;
          nActive = nActive + 1u;
        }
        if (exhausted || nonzero) { break; }
      }
    }
    if (exhausted) {
      start = w;
      nActive = 0u;
    }
    pointStart[t] = start;
    total = total + nActive;
    rowPtr[t + 1u] = total;
  }
  var f = flags[0];
  if (total > params.capacity) { f = f | 1u; }
  if (exhausted) { f = f | 2u; }
  flags[0] = f;
  // the stream after the batch's last draw
  stream = stateAfter(min(p, w));
}

/** The stream state after the first `used` draws of the window. */
fn stateAfter(used: u32) -> vec4<u32> {
  var st = segStates[used / params.segLen];
  for (var r = used % params.segLen; r > 0u; r = r - 1u) {
    _ = next32(&st);
    _ = next32(&st);
  }
  return st;
}

/**
 * The attempt starting at draw p0 of the window, walked as parse walks one: (the draw after its last,
 * 1 if it is valid (some active feature with a nonzero value) else 0, its active features if valid
 * else 0, its active features), or (window, INF, 0, 0) if it runs past the window. The codes past
 * the window are two gaps of n (written by the host), which end any attempt reaching them past it.
 */
fn walkAttempt(p0: u32) -> vec4<u32> {
  let n = params.n;
  let w = params.window;
  let overflow = vec4<u32>(w, INF, 0u, 0u);
  if (params.hasGaps == 0u) {
    // n values, valid unless all are zero (the first is nonzero save with probability 2^-53: one load)
    if (p0 >= w || n > w - p0) { return overflow; }
    for (var p = p0; p < p0 + n; p = p + 1u) {
      if ((codes[p] & ZERO_DRAW) == 0u) { return vec4<u32>(p0 + n, 1u, n, n); }
    }
    return vec4<u32>(p0 + n, 0u, 0u, n);
  }
  var p = p0;
  var pos = codes[p] & GAP_MASK; // the next feature index (j + 1 in generate.ts)
  var nActive = 0u;
  var nonzero = false;
  while (pos < n) {
    nonzero = nonzero || (codes[p + 1u] & ZERO_DRAW) == 0u;
    nActive = nActive + 1u;
    pos = pos + 1u + (codes[p + 2u] & GAP_MASK);
    p = p + 2u;
  }
  p = p + 1u;
  if (p > w) { return overflow; }
  if (!nonzero) { return vec4<u32>(p, 0u, 0u, nActive); }
  return vec4<u32>(p, 1u, nActive, nActive);
}

@compute @workgroup_size(64)
fn attempts(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  if (p > params.window) { return; }
  let e = walkAttempt(p);
  chain[p] = e;
  atomicStore(&marks[e.x], 1u);
}

@compute @workgroup_size(64)
fn compose(@builtin(global_invocation_id) gid: vec3<u32>) {
  // four positions per thread, gid.x + i * span (i = 0..3), their jumps interleaved: as many loads in
  // flight as four threads would have, with a quarter of the threads (whose start is costly on CPUs)
  let stride = params.window + 1u;
  let span = (stride + 3u) / 4u;
  if (gid.x >= span) { return; }
  let level = chainLevel.level;
  // Level L is built only at the positions N_L (and at 0 and the window's end, always): N_1 is where
  // some attempt ends (marked by attempts), N_(L+1) where a level-L entry built at N_L ends (marked
  // here). By induction N_L holds every position that ends a run of a_L = 1 + radix + ... +
  // radix^(L-1) attempts or more from anywhere, so, as a_L <= radix^L, every position that a jump of
  // level L or higher ends at. Past 0, descents (locate) and builds of level L + 1 read level L only
  // at such positions. And N_(L+1) lies within N_L, so one number per position, the highest level,
  // marks them all.
  let w = params.window;
  let p = vec4<u32>(gid.x, gid.x + span, gid.x + 2u * span, gid.x + 3u * span);
  var needed = vec4<bool>(false, false, false, false);
  for (var i = 0u; i < 4u; i = i + 1u) {
    needed[i] = p[i] < stride && (p[i] == 0u || p[i] == w || atomicLoad(&marks[p[i]]) >= level);
  }
  if (!any(needed)) { return; }
  let src = (level - 1u) * stride;
  var q = select(vec4<u32>(w), p, needed); // the window's end (built, and a cheap load) for the others
  var valid = vec4<u32>(0u);
  var nActive = vec4<u32>(0u);
  for (var r = 0u; r < chainLevel.radix; r = r + 1u) {
    let e0 = chain[src + q.x];
    let e1 = chain[src + q.y];
    let e2 = chain[src + q.z];
    let e3 = chain[src + q.w];
    valid = min(valid + vec4<u32>(e0.y, e1.y, e2.y, e3.y), vec4<u32>(INF));
    nActive = nActive + vec4<u32>(e0.z, e1.z, e2.z, e3.z);
    q = vec4<u32>(e0.x, e1.x, e2.x, e3.x);
  }
  for (var i = 0u; i < 4u; i = i + 1u) {
    if (needed[i]) {
      chain[level * stride + p[i]] = vec4<u32>(q[i], valid[i], nActive[i], 0u);
      atomicStore(&marks[q[i]], level + 1u);
    }
  }
}

@compute @workgroup_size(64)
fn locate(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  let batch = params.batch;
  if (k >= batch) { return; }
  let w = params.window;
  let stride = w + 1u;
  // from position 0, pass the longest run of attempts with at most k valid ones: greedily, the
  // highest level first (at most radix - 1 jumps per level below the top, by construction)
  var p = 0u;
  var rest = k;
  var total = 0u; // active features of the valid attempts passed: points 0 .. k - 1
  var level = chainLevel.levels;
  while (level > 0u) {
    level = level - 1u;
    let base = level * stride;
    for (var guard = 0u; guard <= stride; guard = guard + 1u) {
      let e = chain[base + p];
      if (e.y > rest) { break; }
      rest = rest - e.y;
      total = total + e.z;
      p = e.x;
    }
  }
  // the attempt at p is now point k's (valid: one more valid attempt than rest = 0 allows), unless
  // it runs past the window
  let e = chain[p];
  let exhausted = e.y >= INF;
  pointStart[k] = select(p, w, exhausted);
  rowPtr[k] = total;
  if (k + 1u == batch) {
    let all = total + select(e.z, 0u, exhausted);
    rowPtr[batch] = all;
    var f = flags[0];
    if (all > params.capacity) { f = f | 1u; }
    if (exhausted) { f = f | 2u; }
    flags[0] = f;
    stream = stateAfter(select(e.x, w, exhausted));
  }
}

@compute @workgroup_size(64)
fn values(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= params.batch) { return; }
  let hasGaps = params.hasGaps != 0u;
  let base = rowPtr[t];
  let nActive = rowPtr[t + 1u] - base;
  let cap = params.capacity;
  // columns and the sum of squares, in the CPU's order
  var p = pointStart[t];
  var pos = 0u;
  var sumSq = f64_zero();
  for (var k = 0u; k < nActive; k = k + 1u) {
    if (hasGaps) {
      pos = pos + (codes[p] & GAP_MASK);
      p = p + 1u;
    }
    let x = draws[p];
    p = p + 1u;
    let v = f64_from_u53(x.x, x.y);
    sumSq = f64_add(sumSq, f64_mul(v, v));
    if (base + k < cap) { col[base + k] = pos; }
    pos = pos + 1u;
  }
  let norm = f64_sqrt(sumSq);
  p = pointStart[t];
  for (var k = 0u; k < nActive; k = k + 1u) {
    if (hasGaps) { p = p + 1u; }
    let x = draws[p];
    p = p + 1u;
    if (base + k < cap) { val[base + k] = f64_to_f32_bits(f64_div(f64_from_u53(x.x, x.y), norm)); }
  }
}
