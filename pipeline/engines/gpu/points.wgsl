// Batches of the paper's sparse points, drawn on the device bit for bit as data/generate.ts
// `generatePoints` draws them from the xoshiro128** stream of prng/rng.ts. Prepended with
// softf64.wgsl. Three dispatches per batch (see online.ts):
//   draw   (parallel)  the window of the next `window` 53-bit draws of the stream, each with its
//                      gap (via the host's threshold table) and whether it is zero;
//   parse  (1 thread)  walks the window's gaps to find where every point starts and how many
//                      active features it has: rowPtr, the start of each point, the new stream state;
//   values (parallel)  one thread per point: columns, and the values normalised in float64.

struct Params {
  n: u32,
  hasGaps: u32,   // 0 when S = 0: no gap draws at all
  batch: u32,
  capacity: u32,  // of col and val
  window: u32,    // draws (pairs of 32-bit outputs) in the window, segments * segLen
  segLen: u32,    // draws per thread of `draw`
  segments: u32,
  pad: u32,
}

const ZERO_DRAW: u32 = 0x80000000u; // in a code: the draw is exactly 0
const GAP_MASK: u32 = 0x7fffffffu;  // in a code: min(gap, n)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> stream: vec4<u32>;
@group(0) @binding(2) var<storage, read> jumps: array<vec4<u32>>;      // levels * 128 columns
@group(0) @binding(3) var<storage, read> gapTable: array<vec2<u32>>;   // n thresholds on the draw
@group(0) @binding(4) var<storage, read_write> segStates: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> draws: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read_write> codes: array<u32>;
@group(0) @binding(7) var<storage, read_write> pointStart: array<u32>;
@group(0) @binding(8) var<storage, read_write> rowPtr: array<u32>;
@group(0) @binding(9) var<storage, read_write> col: array<u32>;
@group(0) @binding(10) var<storage, read_write> val: array<u32>; // float32 bits
@group(0) @binding(11) var<storage, read_write> flags: array<u32>;  // bit 0: capacity, bit 1: window

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
  let used = min(p, w);
  var st = segStates[used / params.segLen];
  for (var r = used % params.segLen; r > 0u; r = r - 1u) {
    _ = next32(&st);
    _ = next32(&st);
  }
  stream = st;
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
