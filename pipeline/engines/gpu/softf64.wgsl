// IEEE-754 binary64 arithmetic emulated in 32-bit integers: just what the point generator needs,
// bit for bit as JavaScript's float64 computes it (round to nearest, ties to even).
//
// Scope: zero and positive normal numbers (no signs, infinities, NaNs or subnormal doubles); the
// generator's values stay far inside that range (uniform draws are >= 2^-53, squares >= 2^-106).
// The conversion to float32 is correct for the whole float32 range (subnormals, overflow to +inf).
//
// A number is kept unpacked: value = M * 2^(e - 52), with M a 53-bit integer in [2^52, 2^53)
// held as vec2<u32>(low 32 bits, high 21 bits); zero has M = 0. 64-bit integers are vec2<u32>
// (x = low word, y = high word) throughout.

struct F64 {
  m: vec2<u32>,
  e: i32,
}

fn f64_zero() -> F64 {
  return F64(vec2<u32>(0u, 0u), 0);
}

fn f64_is_zero(a: F64) -> bool {
  return (a.m.x | a.m.y) == 0u;
}

// ---- 64-bit integer helpers ----

fn u64_shl(v: vec2<u32>, s: u32) -> vec2<u32> {
  if (s == 0u) { return v; }
  if (s >= 64u) { return vec2<u32>(0u, 0u); }
  if (s >= 32u) { return vec2<u32>(0u, v.x << (s - 32u)); }
  return vec2<u32>(v.x << s, (v.y << s) | (v.x >> (32u - s)));
}

fn u64_shr(v: vec2<u32>, s: u32) -> vec2<u32> {
  if (s == 0u) { return v; }
  if (s >= 64u) { return vec2<u32>(0u, 0u); }
  if (s >= 32u) { return vec2<u32>(v.y >> (s - 32u), 0u); }
  return vec2<u32>((v.x >> s) | (v.y << (32u - s)), v.y >> s);
}

/** Whether a right shift by s drops any set bit. */
fn u64_lost(v: vec2<u32>, s: u32) -> bool {
  if (s == 0u) { return false; }
  if (s >= 64u) { return (v.x | v.y) != 0u; }
  let kept = u64_shl(v, 64u - s);
  return (kept.x | kept.y) != 0u;
}

fn u64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.x + b.x;
  return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn u64_sub(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}

fn u64_ge(a: vec2<u32>, b: vec2<u32>) -> bool {
  return a.y > b.y || (a.y == b.y && a.x >= b.x);
}

fn u64_clz(v: vec2<u32>) -> u32 {
  if (v.y != 0u) { return countLeadingZeros(v.y); }
  return 32u + countLeadingZeros(v.x);
}

fn u64_bit(v: vec2<u32>, k: u32) -> u32 {
  if (k >= 32u) { return (v.y >> (k - 32u)) & 1u; }
  return (v.x >> k) & 1u;
}

/** The full 64-bit product of two 32-bit words (u32 multiplication wraps, so from 16-bit halves). */
fn mul32(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = p01 + p10;
  let midCarry = select(0u, 0x10000u, mid < p01);
  let lo = p00 + (mid << 16u);
  let c = select(0u, 1u, lo < p00);
  return vec2<u32>(lo, p11 + (mid >> 16u) + midCarry + c);
}

// ---- rounding ----

/** M (53 bits, top bit 52) rounded up by one ulp when the dropped part says so, ties to even. */
fn f64_round(m: vec2<u32>, roundBit: bool, sticky: bool, e: i32) -> F64 {
  if (roundBit && (sticky || (m.x & 1u) != 0u)) {
    let up = u64_add(m, vec2<u32>(1u, 0u));
    if (up.y == 0x200000u && up.x == 0u) {
      return F64(vec2<u32>(0u, 0x100000u), e + 1);
    }
    return F64(up, e);
  }
  return F64(m, e);
}

// ---- conversions ----

/** The uniform draw (hi * 2^26 + lo) / 2^53, exactly (hi: 27 bits, lo: 26 bits). */
fn f64_from_u53(hi: u32, lo: u32) -> F64 {
  let x = vec2<u32>((hi << 26u) | lo, hi >> 6u);
  if ((x.x | x.y) == 0u) { return f64_zero(); }
  let s = u64_clz(x) - 11u;
  return F64(u64_shl(x, s), -1 - i32(s));
}

/** From IEEE bits vec2(low word, high word); only zero and positive normal numbers. */
fn f64_from_bits(b: vec2<u32>) -> F64 {
  let be = (b.y >> 20u) & 0x7ffu;
  if (be == 0u) { return f64_zero(); }
  return F64(vec2<u32>(b.x, (b.y & 0xfffffu) | 0x100000u), i32(be) - 1023);
}

/** To IEEE bits vec2(low word, high word); only zero and positive normal numbers. */
fn f64_to_bits(a: F64) -> vec2<u32> {
  if (f64_is_zero(a)) { return vec2<u32>(0u, 0u); }
  return vec2<u32>(a.m.x, (u32(a.e + 1023) << 20u) | (a.m.y & 0xfffffu));
}

/** To float32 bits, rounding to nearest even (subnormal results and overflow to +inf included). */
fn f64_to_f32_bits(a: F64) -> u32 {
  if (f64_is_zero(a)) { return 0u; }
  let e = a.e;
  if (e > 127) { return 0x7f800000u; }
  var sh = 29u;
  if (e < -126) { sh = 29u + u32(-126 - e); }
  if (sh > 54u) { return 0u; }
  var m = u64_shr(a.m, sh).x;
  let roundBit = u64_bit(a.m, sh - 1u) != 0u;
  let sticky = u64_lost(a.m, sh - 1u);
  if (roundBit && (sticky || (m & 1u) != 0u)) { m = m + 1u; }
  var bits = m;
  if (e >= -126) { bits = (u32(e + 126) << 23u) + m; }
  return min(bits, 0x7f800000u);
}

// ---- arithmetic ----

fn f64_mul(a: F64, b: F64) -> F64 {
  if (f64_is_zero(a) || f64_is_zero(b)) { return f64_zero(); }
  // the 106-bit product of the mantissas, as words w0..w3
  let ll = mul32(a.m.x, b.m.x);
  let lh = mul32(a.m.x, b.m.y);
  let hl = mul32(a.m.y, b.m.x);
  let hh = mul32(a.m.y, b.m.y);
  let w0 = ll.x;
  var w1 = ll.y + lh.x;
  var w2 = lh.y + select(0u, 1u, w1 < lh.x);
  let w1b = w1 + hl.x;
  w2 = w2 + hl.y + select(0u, 1u, w1b < hl.x);
  w1 = w1b;
  let w2b = w2 + hh.x;
  let w3 = hh.y + select(0u, 1u, w2b < hh.x);
  w2 = w2b;
  // product in [2^104, 2^106): keep 53 bits
  var r = 20u;
  var e = a.e + b.e;
  if ((w3 >> 9u) != 0u) { r = 21u; e = e + 1; }
  let m = vec2<u32>((w1 >> r) | (w2 << (32u - r)), (w2 >> r) | (w3 << (32u - r)));
  let roundBit = ((w1 >> (r - 1u)) & 1u) != 0u;
  let sticky = w0 != 0u || (w1 & ((1u << (r - 1u)) - 1u)) != 0u;
  return f64_round(m, roundBit, sticky, e);
}

/** a + b for a, b >= 0. */
fn f64_add(a: F64, b: F64) -> F64 {
  if (f64_is_zero(a)) { return b; }
  if (f64_is_zero(b)) { return a; }
  var x = a;
  var y = b;
  if (y.e > x.e) { x = b; y = a; }
  let d = u32(x.e - y.e);
  let big = u64_shl(x.m, 10u); // top bit 62
  let small = u64_shl(y.m, 10u);
  var sticky = u64_lost(small, d);
  var s = u64_add(big, u64_shr(small, d)); // < 2^64
  var e = x.e;
  if ((s.y >> 31u) != 0u) {
    sticky = sticky || (s.x & 1u) != 0u;
    s = u64_shr(s, 1u);
    e = e + 1;
  }
  let roundBit = ((s.x >> 9u) & 1u) != 0u;
  sticky = sticky || (s.x & 0x1ffu) != 0u;
  return f64_round(u64_shr(s, 10u), roundBit, sticky, e);
}

/** The correctly rounded square root of a >= 0. */
fn f64_sqrt(a: F64) -> F64 {
  if (f64_is_zero(a)) { return f64_zero(); }
  // a = mp * 2^ex with ex even; the root of N = mp * 2^56 has 55 bits
  var ex = a.e - 52;
  var mp = a.m;
  if ((ex & 1) != 0) {
    mp = u64_shl(mp, 1u);
    ex = ex - 1;
  }
  var rem = vec2<u32>(0u, 0u);
  var root = vec2<u32>(0u, 0u);
  for (var i = 54; i >= 0; i = i - 1) {
    let k = 2 * i - 56; // the next two bits of N are bits k + 1 and k of mp
    var two = 0u;
    if (k >= 0) { two = (u64_bit(mp, u32(k + 1)) << 1u) | u64_bit(mp, u32(k)); }
    rem = u64_shl(rem, 2u);
    rem.x = rem.x | two;
    var trial = u64_shl(root, 2u);
    trial.x = trial.x | 1u;
    root = u64_shl(root, 1u);
    if (u64_ge(rem, trial)) {
      rem = u64_sub(rem, trial);
      root.x = root.x | 1u;
    }
  }
  let roundBit = ((root.x >> 1u) & 1u) != 0u;
  let sticky = (root.x & 1u) != 0u || (rem.x | rem.y) != 0u;
  return f64_round(u64_shr(root, 2u), roundBit, sticky, 26 + ex / 2);
}

/** The correctly rounded quotient a / b for a >= 0, b > 0. */
fn f64_div(a: F64, b: F64) -> F64 {
  if (f64_is_zero(a)) { return f64_zero(); }
  var r = a.m;
  var e = a.e - b.e;
  if (!u64_ge(a.m, b.m)) {
    r = u64_shl(r, 1u);
    e = e - 1;
  }
  // 55 quotient bits by restoring division; r stays below 2 * b.m < 2^54
  var q = vec2<u32>(0u, 0u);
  for (var i = 0u; i < 55u; i = i + 1u) {
    q = u64_shl(q, 1u);
    if (u64_ge(r, b.m)) {
      r = u64_sub(r, b.m);
      q.x = q.x | 1u;
    }
    r = u64_shl(r, 1u);
  }
  let roundBit = ((q.x >> 1u) & 1u) != 0u;
  let sticky = (q.x & 1u) != 0u || (r.x | r.y) != 0u;
  return f64_round(u64_shr(q, 2u), roundBit, sticky, e);
}
