/// <reference types="@webgpu/types" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { Rng } from '../../pipeline/prng/rng.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import { gapOf, gapThresholds } from '../../pipeline/data/gaps.ts';
import {
  createOnlineBatches,
  gapTableWords,
  jumpMatrices,
  pointsSource,
  softF64Source,
} from '../../pipeline/engines/gpu/online.ts';

// These tests need a WebGPU adapter (Dawn through the `webgpu` package; lavapipe will do) and fail without one.
// Dawn's instance must stay referenced: once it is garbage-collected, mapAsync never settles and the
// process dies (futex / mutex errors).
let gpu: GPU;
let device: GPUDevice;
const errors: string[] = [];

beforeAll(async () => {
  Object.assign(globalThis, globals);
  gpu = create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter: the gpu points tests need one (e.g. Mesa lavapipe)');
  device = await adapter.requestDevice();
  device.addEventListener('uncapturederror', (e) => errors.push(String((e as GPUUncapturedErrorEvent).error.message)));
});

afterAll(() => device?.destroy());

const STORAGE = 0x80, COPY_SRC = 0x04, COPY_DST = 0x08, MAP_READ = 0x01;

function upload(data: Uint32Array, usage = STORAGE | COPY_DST): GPUBuffer {
  const b = device.createBuffer({ size: Math.max(16, data.byteLength), usage });
  device.queue.writeBuffer(b, 0, data);
  return b;
}

async function download(src: GPUBuffer, bytes: number): Promise<Uint32Array> {
  const staging = device.createBuffer({ size: Math.max(16, bytes), usage: MAP_READ | COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, Math.max(16, bytes));
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(1);
  const out = new Uint32Array(staging.getMappedRange().slice(0, bytes));
  staging.destroy();
  return out;
}

/** Runs `entryPoint` of `code` over `invocations` threads (workgroups of 64) with storage buffers at group 0. */
async function run(code: string, entryPoint: string, bindings: Record<number, GPUBuffer>, invocations: number): Promise<void> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint } });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: Object.entries(bindings).map(([binding, buffer]) => ({ binding: Number(binding), resource: { buffer } })),
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(Math.ceil(invocations / 64));
  pass.end();
  device.queue.submit([enc.finish()]);
  const err = await device.popErrorScope();
  if (err) throw new Error(err.message);
}

// ---- float64 helpers ----

const f64 = new Float64Array(1);
const f64w = new Uint32Array(f64.buffer);
const bitsOf = (x: number): [number, number] => {
  f64[0] = x;
  return [f64w[0], f64w[1]];
};
const fromBits = (lo: number, hi: number): number => {
  f64w[0] = lo;
  f64w[1] = hi;
  return f64[0];
};
const f32 = new Float32Array(1);
const f32w = new Uint32Array(f32.buffer);
const f32Bits = (x: number): number => {
  f32[0] = x;
  return f32w[0];
};
const isNormal = (x: number) => x === 0 || (Number.isFinite(x) && x >= 2 ** -1022);

/** A deterministic stream of test numbers (not the project's generator: independent of it). */
function mulberry(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Positive normal doubles of many shapes: random, short mantissas (ties), all-ones, near powers of two. */
function testNumbers(count: number, seed: number, minExp: number, maxExp: number): number[] {
  const r = mulberry(seed);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const e = minExp + Math.floor(r() * (maxExp - minExp + 1));
    let hi = Math.floor(r() * 2 ** 20);
    let lo = Math.floor(r() * 2 ** 32);
    const shape = Math.floor(r() * 6);
    if (shape === 1 || shape === 2) {
      // keep only the top few mantissa bits: products, sums and conversions land on ties
      const keep = Math.floor(r() * 53);
      const mant = (hi * 2 ** 32 + lo) - ((hi * 2 ** 32 + lo) % 2 ** (52 - keep));
      hi = Math.floor(mant / 2 ** 32);
      lo = mant % 2 ** 32;
    } else if (shape === 3) {
      hi = 0xfffff; // just below a power of two
      lo = r() < 0.5 ? 0xffffffff : 0xffffffff - Math.floor(r() * 16);
    } else if (shape === 4) {
      hi = 0; // just above a power of two
      lo = Math.floor(r() * 16);
    }
    out.push(fromBits(lo >>> 0, ((e + 1023) << 20) | hi));
  }
  return out;
}

const SOFT_TEST = `${softF64Source}
@group(0) @binding(0) var<storage, read> inp: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> outp: array<u32>;
@compute @workgroup_size(64)
fn ops(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&inp)) { return; }
  let a = f64_from_bits(inp[i].xy);
  let b = f64_from_bits(inp[i].zw);
  let r = array<vec2<u32>, 4>(f64_to_bits(f64_mul(a, b)), f64_to_bits(f64_add(a, b)), f64_to_bits(f64_div(a, b)), f64_to_bits(f64_sqrt(a)));
  for (var k = 0u; k < 4u; k = k + 1u) {
    outp[i * 10u + 2u * k] = r[k].x;
    outp[i * 10u + 2u * k + 1u] = r[k].y;
  }
  outp[i * 10u + 8u] = f64_to_f32_bits(a);
  outp[i * 10u + 9u] = f64_to_f32_bits(b);
}
@compute @workgroup_size(64)
fn draw53(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&inp)) { return; }
  // the generator's own chain for one value: v = X / 2^53, v * v, s + v * v, sqrt(s), v / sqrt(s)
  let v = f64_from_u53(inp[i].x, inp[i].y);
  let s = f64_from_bits(inp[i].zw);
  let sq = f64_mul(v, v);
  let sum = f64_add(s, sq);
  let norm = f64_sqrt(sum);
  let r = array<vec2<u32>, 4>(f64_to_bits(v), f64_to_bits(sq), f64_to_bits(sum), f64_to_bits(norm));
  for (var k = 0u; k < 4u; k = k + 1u) {
    outp[i * 10u + 2u * k] = r[k].x;
    outp[i * 10u + 2u * k + 1u] = r[k].y;
  }
  outp[i * 10u + 8u] = f64_to_f32_bits(f64_div(v, norm));
  outp[i * 10u + 9u] = 0u;
}
`;

async function runSoft(entryPoint: 'ops' | 'draw53', inputs: Uint32Array): Promise<Uint32Array> {
  const count = inputs.length / 4;
  const inp = upload(inputs);
  const outp = device.createBuffer({ size: count * 40, usage: STORAGE | COPY_SRC });
  await run(SOFT_TEST, entryPoint, { 0: inp, 1: outp }, count);
  const out = await download(outp, count * 40);
  inp.destroy();
  outp.destroy();
  return out;
}

function hex(lo: number, hi: number): string {
  return `${fromBits(lo, hi)} (0x${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')})`;
}

describe('float64 emulation in WGSL (softf64.wgsl)', () => {
  it('multiplies, adds, divides, takes square roots and rounds to float32 exactly as JavaScript does', async () => {
    const pairs: [number, number][] = [];
    // edge cases: ties in sums and products, exact squares, powers of two, neighbours of 1
    const ulp1 = 2 ** -52;
    const edges: [number, number][] = [
      [1, 2 ** -53], [1 + ulp1, 2 ** -53], [1, 2 ** -54], [1 + ulp1, 2 ** -54 + 2 ** -100], [1, 1], [1.5, 1.5],
      [1 + ulp1, 1.5], [1 + 3 * ulp1, 1.5], [2 - ulp1, 2 - ulp1], [2 - ulp1, ulp1], [1, 2 ** -200], [2 ** 60, 3],
      [(2 ** 26 + 1) ** 2, 2 ** 26 + 1], [4, 2], [2, 4], [9, 3], [0.25, 0.5], [(2 ** 53 - 1) / 2 ** 53, 1 / 3],
      [1 + 2 ** -24, 1 + 2 ** -25], [1 + 2 ** -24 + 2 ** -52, 3], [2 ** 127 * (2 - 2 ** -23), 2 ** -126], [2 ** 128 * (1 - 2 ** -25), 2 ** -149],
      [2 ** -150, 2 ** -149 * 1.5], [2 ** -150 * (1 + ulp1), 2 ** -127 * (1 + 2 ** -23)], [2 ** -127 * (1 + 2 ** -23 + 2 ** -24), 2 ** 127 * (1 + 2 ** -24)],
      [2 ** 127 * (2 - 2 ** -24), 2 ** 200],
    ];
    pairs.push(...edges);
    // exact squares and their neighbours
    const r = mulberry(7);
    for (let i = 0; i < 300; i++) {
      const y = Math.floor(r() * 2 ** 26) + 1;
      const sq = y * y * 2 ** (2 * Math.floor(r() * 40) - 40);
      pairs.push([sq, y], [sq * (1 + ulp1), y], [sq * (1 - ulp1 / 2), y + 1]);
    }
    const a = testNumbers(6000, 1, -150, 140);
    const b = testNumbers(6000, 2, -150, 140);
    for (let i = 0; i < a.length; i++) pairs.push([a[i], b[i]]);
    // close exponents (sums carry and tie more often)
    const c = testNumbers(4000, 3, -3, 3);
    for (let i = 0; i + 1 < c.length; i += 2) pairs.push([c[i], c[i + 1]]);

    const inputs = new Uint32Array(pairs.length * 4);
    pairs.forEach(([x, y], i) => inputs.set([...bitsOf(x), ...bitsOf(y)], i * 4));
    const out = await runSoft('ops', inputs);
    const bad: string[] = [];
    let checked = 0;
    pairs.forEach(([x, y], i) => {
      const want = [x * y, x + y, x / y, Math.sqrt(x)];
      const names = ['mul', 'add', 'div', 'sqrt'];
      want.forEach((w, k) => {
        if (!isNormal(w)) return; // outside the emulation's scope (subnormal or infinite doubles)
        checked++;
        const [lo, hi] = bitsOf(w);
        const gl = out[i * 10 + 2 * k], gh = out[i * 10 + 2 * k + 1];
        if (gl !== lo || gh !== hi) bad.push(`${names[k]}(${x}, ${y}): ${hex(gl, gh)}, want ${hex(lo, hi)}`);
      });
      for (const [k, z] of [[8, x], [9, y]] as const) {
        checked++;
        if (out[i * 10 + k] !== f32Bits(z)) bad.push(`f32(${z}): 0x${out[i * 10 + k].toString(16)}, want 0x${f32Bits(z).toString(16)}`);
      }
    });
    expect(bad.slice(0, 10)).toEqual([]);
    expect(checked).toBeGreaterThan(pairs.length * 5);
  });

  it('follows the generator chain from a 53-bit draw (v, v*v, s + v*v, sqrt, v / norm to float32) exactly', async () => {
    const r = mulberry(11);
    const cases: [number, number, number][] = [[0, 0, 0], [0, 1, 0], [0, 0, 0.5], [0x7ffffff, 0x3ffffff, 0], [0x4000000, 0, 0], [0, 1, 1e-30], [0x7ffffff, 0x3ffffff, 9999.5]];
    for (let i = 0; i < 20000; i++) {
      let hi = Math.floor(r() * 2 ** 27);
      let lo = Math.floor(r() * 2 ** 26);
      const shape = i % 4;
      if (shape === 1) hi >>>= Math.floor(r() * 28); // small draws
      if (shape === 2) { hi = 0; lo >>>= Math.floor(r() * 27); } // tiny draws
      // a running sum of squares: 0, a small one, or up to n
      const s = i % 3 === 0 ? 0 : i % 3 === 1 ? r() * r() : r() * 10000;
      cases.push([hi, lo, s]);
    }
    const inputs = new Uint32Array(cases.length * 4);
    cases.forEach(([hi, lo, s], i) => inputs.set([hi, lo, ...bitsOf(s)], i * 4));
    const out = await runSoft('draw53', inputs);
    const bad: string[] = [];
    cases.forEach(([hi, lo, s], i) => {
      const v = (hi * 67108864 + lo) / 9007199254740992;
      const sq = v * v;
      const sum = s + sq;
      const norm = Math.sqrt(sum);
      [v, sq, sum, norm].forEach((w, k) => {
        const [wl, wh] = bitsOf(w);
        if (out[i * 10 + 2 * k] !== wl || out[i * 10 + 2 * k + 1] !== wh) bad.push(`draw (${hi}, ${lo}), s = ${s}, step ${k}: ${hex(out[i * 10 + 2 * k], out[i * 10 + 2 * k + 1])}, want ${hex(wl, wh)}`);
      });
      const want = sum === 0 ? 0 : f32Bits(v / norm);
      if (out[i * 10 + 8] !== want) bad.push(`draw (${hi}, ${lo}), s = ${s}: val 0x${out[i * 10 + 8].toString(16)}, want 0x${want.toString(16)}`);
    });
    expect(bad.slice(0, 10)).toEqual([]);
  });
});

describe('the gap threshold table', () => {
  const cases: [number, number][] = [[30, 0.8], [200, 0.95], [1000, 0.99], [10000, 0.999], [5, 0.9], [50, 1e-9], [100, 0.5], [3000, 0.9999999]];

  it('puts every threshold at its boundary: gap(U_k) >= k > gap(U_k + 1), thresholds non-increasing', () => {
    for (const [n, S] of cases) {
      const U = gapThresholds(n, S);
      for (let k = 1; k <= n; k++) {
        const u = U[k - 1];
        if (u === 0) {
          expect(gapOf(1, S)).toBeLessThan(k);
        } else {
          expect(Number.isInteger(u) && u >= 1 && u < 2 ** 53).toBe(true);
          expect(gapOf(u, S)).toBeGreaterThanOrEqual(k);
          expect(gapOf(u + 1, S)).toBeLessThan(k);
        }
        if (k > 1) expect(u).toBeLessThanOrEqual(U[k - 2]);
      }
    }
  });

  it('gives on the device min(gap, n) of generate.ts for draws at, beside and between the thresholds', async () => {
    const PROBE = `${pointsSource}
@group(0) @binding(12) var<storage, read> probeIn: array<vec2<u32>>;
@group(0) @binding(13) var<storage, read_write> probeOut: array<u32>;
@compute @workgroup_size(64)
fn probeGap(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&probeIn)) { return; }
  probeOut[i] = gapOf(probeIn[i].x, probeIn[i].y);
}
`;
    const r = mulberry(5);
    for (const [n, S] of cases) {
      const U = gapThresholds(n, S);
      const xs: number[] = [0, 1, 2 ** 53 - 1, 2 ** 52];
      for (let k = 0; k < n; k += Math.max(1, Math.floor(n / 500))) {
        const T = 2 ** 53 - U[k];
        for (const d of [-2, -1, 0, 1]) if (T + d >= 0 && T + d < 2 ** 53) xs.push(T + d);
      }
      for (let i = 0; i < 2000; i++) xs.push(Math.floor(r() * 2 ** 27) * 2 ** 26 + Math.floor(r() * 2 ** 26));
      const words = new Uint32Array(xs.length * 2);
      xs.forEach((x, i) => {
        words[2 * i] = Math.floor(x / 2 ** 26);
        words[2 * i + 1] = x % 2 ** 26;
      });
      const params = device.createBuffer({ size: 32, usage: 0x40 | COPY_DST });
      device.queue.writeBuffer(params, 0, new Uint32Array([n, 1, 0, 0, 0, 0, 0, 0]));
      const table = upload(gapTableWords(n, S));
      const probeIn = upload(words);
      const probeOut = device.createBuffer({ size: xs.length * 4, usage: STORAGE | COPY_SRC });
      await run(PROBE, 'probeGap', { 0: params, 3: table, 12: probeIn, 13: probeOut }, xs.length);
      const got = await download(probeOut, xs.length * 4);
      const bad: string[] = [];
      xs.forEach((x, i) => {
        const want = Math.min(n, Math.floor(Math.log(1 - x / 2 ** 53) / Math.log(S)));
        if (got[i] !== want) bad.push(`n = ${n}, S = ${S}, X = ${x}: ${got[i]}, want ${want}`);
      });
      expect(bad.slice(0, 5)).toEqual([]);
      for (const b of [params, table, probeIn, probeOut]) b.destroy();
    }
  });
});

describe('jump matrices', () => {
  it('jump the xoshiro128** state by 2^level * steps outputs', () => {
    const steps = 10, levels = 4;
    const J = jumpMatrices(steps, levels);
    const rng = Rng.fromLabel('gpu-points/jump');
    const s = (rng.state().slice(0, 4) as number[]).map((w) => w >>> 0);
    for (let level = 0; level < levels; level++) {
      const want = Rng.fromState(rng.state());
      for (let i = 0; i < steps * 2 ** level; i++) want.nextUint32();
      const got = [0, 0, 0, 0];
      for (let b = 0; b < 128; b++) {
        if ((s[b >>> 5] >>> (b & 31)) & 1) for (let w = 0; w < 4; w++) got[w] ^= J[level * 512 + b * 4 + w];
      }
      expect(got.map((w) => w | 0)).toEqual(want.state().slice(0, 4));
    }
  });
});

// ---- the generator against generatePoints ----

interface Batch {
  rowPtr: Uint32Array;
  col: Uint32Array;
  val: Uint32Array; // float32 bits
}

type Parse = 'parallel' | 'sequential';

async function gpuBatches(n: number, sparsity: number, batch: number, rng: Rng, batches: number, parse?: Parse) {
  device.pushErrorScope('validation');
  const ob = createOnlineBatches(device, { n, sparsity, batch, parse });
  ob.setStream(rng.state());
  const enc = device.createCommandEncoder();
  const staged: GPUBuffer[][] = [];
  for (let b = 0; b < batches; b++) {
    ob.encode(enc);
    staged.push(
      [[ob.rowPtr, (batch + 1) * 4], [ob.col, ob.capacity * 4], [ob.val, ob.capacity * 4]].map(([src, size]) => {
        const dst = device.createBuffer({ size: size as number, usage: MAP_READ | COPY_DST });
        enc.copyBufferToBuffer(src as GPUBuffer, 0, dst, 0, size as number);
        return dst;
      }),
    );
  }
  device.queue.submit([enc.finish()]);
  const out: Batch[] = [];
  for (const [r, c, v] of staged) {
    await Promise.all([r.mapAsync(1), c.mapAsync(1), v.mapAsync(1)]);
    const rowPtr = new Uint32Array(r.getMappedRange().slice(0));
    const nnz = rowPtr[batch];
    out.push({ rowPtr, col: new Uint32Array(c.getMappedRange().slice(0, nnz * 4)), val: new Uint32Array(v.getMappedRange().slice(0, nnz * 4)) });
    for (const b of [r, c, v]) b.destroy();
  }
  await ob.checkOverflow();
  const state = await ob.readStream();
  ob.destroy();
  const err = await device.popErrorScope();
  if (err) throw new Error(err.message);
  return { batches: out, state };
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `at ${i}: ${a[i]} and ${b[i]}`;
  return null;
}

async function expectSame(n: number, sparsity: number, batch: number, batches: number, label: string, parse?: Parse) {
  const cpu = Rng.fromLabel(label);
  const gpu = await gpuBatches(n, sparsity, batch, Rng.fromLabel(label), batches, parse);
  for (let b = 0; b < batches; b++) {
    const want = generatePoints({ n, sparsity }, batch, cpu);
    const got = gpu.batches[b];
    const where = `n = ${n}, S = ${sparsity}, ${parse ?? 'default'} parse, batch ${b}`;
    expect(firstDifference(got.rowPtr, want.rowPtr), `${where}: rowPtr`).toBeNull();
    expect(firstDifference(got.col, want.col), `${where}: col`).toBeNull();
    expect(firstDifference(got.val, new Uint32Array(want.val.buffer, want.val.byteOffset, want.val.length)), `${where}: val bits`).toBeNull();
  }
  expect(gpu.state).toEqual(cpu.state());
  expect(errors).toEqual([]);
}

describe('createOnlineBatches', () => {
  it('draws n = 30, S = 0.8 bit for bit as generatePoints, and leaves the stream where it does', () => expectSame(30, 0.8, 500, 1, 'gpu-points/30'));
  it('draws n = 200, S = 0.95 bit for bit', () => expectSame(200, 0.95, 300, 1, 'gpu-points/200'));
  it('draws n = 1000, S = 0.99 bit for bit', () => expectSame(1000, 0.99, 1000, 1, 'gpu-points/1000'));
  it('draws n = 10000, S = 0.999, batch 1000 bit for bit', () => expectSame(10000, 0.999, 1000, 1, 'gpu-points/10000'));
  it('draws S = 0 (every feature active, no gap draws) bit for bit', () => expectSame(7, 0, 200, 2, 'gpu-points/dense'));
  it('redraws points without an active feature as generatePoints does (n = 5, S = 0.9)', () => expectSame(5, 0.9, 1000, 1, 'gpu-points/redraw'));
  it('continues the stream over consecutive batches in one command buffer', () => expectSame(200, 0.95, 100, 5, 'gpu-points/consecutive'));
  it('handles batch 1 and tiny sparsities', async () => {
    await expectSame(50, 1e-9, 3, 2, 'gpu-points/tiny-S');
    await expectSame(1, 0.5, 1, 4, 'gpu-points/one');
  });
  it('draws the paper\'s T = infinity batches (n = 10000, S = 0.999, batch 10000) bit for bit, several in one command buffer', () =>
    expectSame(10000, 0.999, 10000, 5, 'gpu-points/infinity', 'parallel'));
  it('parses in parallel exactly as the sequential parse does', async () => {
    const cases: [number, number, number, number, string][] = [
      [30, 0.8, 500, 2, 'gpu-points/30'], [5, 0.9, 1000, 2, 'gpu-points/redraw'], [7, 0, 200, 2, 'gpu-points/dense'],
      [1, 0.5, 1, 4, 'gpu-points/one'], [3, 0.99, 70, 3, 'gpu-points/mostly-redrawn'], [10000, 0.999, 1000, 2, 'gpu-points/10000'],
    ];
    for (const [n, S, batch, batches, label] of cases) {
      await expectSame(n, S, batch, batches, label, 'sequential');
      await expectSame(n, S, batch, batches, label, 'parallel');
    }
  });

  it('parses in parallel exactly as sequentially, overflows included, over random shapes and short windows', async () => {
    const r = mulberry(23);
    for (let c = 0; c < Number(process.env.GPU_POINTS_FUZZ ?? 12); c++) {
      const n = 1 + Math.floor(r() ** 2 * 400);
      const S = [0, 0.5, 0.9, 0.99, 1 - r() * 0.3, r()][Math.floor(r() * 6)];
      const batch = 1 + Math.floor(r() ** 2 * 300);
      const label = `gpu-points/fuzz/${c}`;
      const sizes = r() < 0.5 ? undefined : { window: Math.ceil(r() * 1.3 * batch * (S === 0 ? n : 1 + 2 * n * (1 - S))), capacity: r() < 0.3 ? Math.floor(batch * n * (1 - S) * r() * 1.2) : undefined };
      const runs = await Promise.all((['parallel', 'sequential'] as const).map(async (parse) => {
        const ob = createOnlineBatches(device, { n, sparsity: S, batch, sizes, parse });
        ob.setStream(Rng.fromLabel(label).state());
        const enc = device.createCommandEncoder();
        const staged: GPUBuffer[] = [];
        for (let b = 0; b < 3; b++) {
          ob.encode(enc);
          for (const [src, size] of [[ob.rowPtr, (batch + 1) * 4], [ob.col, ob.capacity * 4], [ob.val, ob.capacity * 4]] as const) {
            const dst = device.createBuffer({ size, usage: MAP_READ | COPY_DST });
            enc.copyBufferToBuffer(src, 0, dst, 0, size);
            staged.push(dst);
          }
        }
        device.queue.submit([enc.finish()]);
        const words: number[][] = [];
        for (const d of staged) {
          await d.mapAsync(1);
          words.push(Array.from(new Uint32Array(d.getMappedRange().slice(0))));
          d.destroy();
        }
        // col and val up to each batch's nnz (within the capacity): the rest is stale
        for (let b = 0; b < 3; b++) {
          const nnz = Math.min(words[3 * b][batch], ob.capacity);
          words[3 * b + 1].length = nnz;
          words[3 * b + 2].length = nnz;
        }
        const overflow = await ob.checkOverflow().then(() => '', (e: Error) => e.message);
        const state = await ob.readStream();
        ob.destroy();
        return { words, overflow, state };
      }));
      const where = `n = ${n}, S = ${S}, batch = ${batch}, sizes = ${JSON.stringify(sizes)}`;
      expect(runs[0].overflow, where).toBe(runs[1].overflow);
      expect(runs[0].state, where).toEqual(runs[1].state);
      runs[0].words.forEach((w, i) => expect(firstDifference(w, runs[1].words[i]), `${where}: buffer ${i}`).toBeNull());
      if (!runs[0].overflow) {
        const cpu = Rng.fromLabel(label);
        for (let b = 0; b < 3; b++) expect(Array.from(generatePoints({ n, sparsity: S }, batch, cpu).rowPtr), where).toEqual(runs[0].words[3 * b]);
        expect(runs[0].state, where).toEqual(cpu.state());
      }
    }
    expect(errors).toEqual([]);
  });

  it.each(['parallel', 'sequential'] as const)('redraws a point whose values are all exactly zero (a zero 53-bit draw), as generatePoints does (%s parse)', async (parse) => {
    // A state whose first four outputs are 1, so the first gap and value draws are X = 0: with n = 1 and
    // S = 1e-9 the first attempt is feature 0 with value 0, which generatePoints draws again.
    const state = stateWithFirstOutputs(1);
    const probe = Rng.fromState(state);
    for (let i = 0; i < 4; i++) expect(probe.nextUint32()).toBe(1);
    const cpu = Rng.fromState(state);
    generatePoints({ n: 1, sparsity: 1e-9 }, 1, cpu);
    const twelve = Rng.fromState(state);
    for (let i = 0; i < 12; i++) twelve.nextUint32(); // two attempts of gap, value, gap
    expect(cpu.state()).toEqual(twelve.state());
    const want = generatePoints({ n: 1, sparsity: 1e-9 }, 3, Rng.fromState(state));
    const got = await gpuBatches(1, 1e-9, 3, Rng.fromState(state), 1, parse);
    expect(Array.from(got.batches[0].rowPtr)).toEqual(Array.from(want.rowPtr));
    expect(Array.from(got.batches[0].val)).toEqual(Array.from(new Uint32Array(want.val.buffer)));
    const after = Rng.fromState(state);
    generatePoints({ n: 1, sparsity: 1e-9 }, 3, after);
    expect(got.state).toEqual(after.state());
  });

  it.each(['parallel', 'sequential'] as const)('flags a batch over its capacity or window instead of writing out of bounds, and checkOverflow says so once (%s parse)', async (parse) => {
    for (const [sizes, what] of [[{ capacity: 50 }, /capacity of 50/], [{ window: 64 }, /window of 64/], [{ window: 2000 }, /window of 2016/]] as const) {
      device.pushErrorScope('validation');
      const ob = createOnlineBatches(device, { n: 200, sparsity: 0.95, batch: 100, sizes, parse });
      ob.setStream(Rng.fromLabel('gpu-points/overflow').state());
      const enc = device.createCommandEncoder();
      ob.encode(enc);
      device.queue.submit([enc.finish()]);
      await expect(ob.checkOverflow()).rejects.toThrow(/n = 200, S = 0.95, batch = 100, capacity = \d+/);
      await ob.checkOverflow(); // cleared
      const enc2 = device.createCommandEncoder();
      ob.encode(enc2);
      device.queue.submit([enc2.finish()]);
      await expect(ob.checkOverflow()).rejects.toThrow(what);
      ob.destroy();
      expect(await device.popErrorScope()).toBeNull();
    }
    // the default sizes: mean + 12 sd and more of the active features and draws
    const ob = createOnlineBatches(device, { n: 10000, sparsity: 0.999, batch: 1000 });
    expect(ob.capacity).toBeGreaterThan(11_000);
    expect(ob.capacity).toBeLessThan(13_000);
    ob.destroy();
  });

  it('rejects a spare normal value and sparsities outside [0, 1)', () => {
    expect(() => createOnlineBatches(device, { n: 10, sparsity: 1, batch: 4 })).toThrow(/sparsity/);
    const ob = createOnlineBatches(device, { n: 10, sparsity: 0.5, batch: 4 });
    expect(() => ob.setStream([1, 2, 3, 4, 0.5])).toThrow(/spare normal/);
    ob.destroy();
  });
});

/** The inverse of an odd number modulo 2^32. */
function inverse32(a: number): number {
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x >>> 0;
}

/**
 * A xoshiro128** state whose first four outputs all equal `out`: each output is a function of the
 * word s1 before its step, and s1 over four steps is a GF(2)-linear function of the state, solved here.
 */
function stateWithFirstOutputs(out: number): (number | null)[] {
  const rotr = (x: number, k: number) => ((x >>> k) | (x << (32 - k))) >>> 0;
  const s1 = Math.imul(rotr(Math.imul(out, inverse32(9)) >>> 0, 7), inverse32(5)) >>> 0;
  // columns: the four s1 words reached from each basis state
  const cols: number[][] = [];
  for (let b = 0; b < 128; b++) {
    const w = [0, 0, 0, 0];
    w[b >>> 5] = (1 << (b & 31)) >>> 0;
    const col: number[] = [];
    for (let k = 0; k < 4; k++) {
      col.push(w[1]);
      const [s0, t1, s2, s3] = w;
      const n2 = (s2 ^ s0) >>> 0, n3 = (s3 ^ t1) >>> 0;
      w[0] = (s0 ^ n3) >>> 0;
      w[1] = (t1 ^ n2) >>> 0;
      w[2] = (n2 ^ (t1 << 9)) >>> 0;
      w[3] = ((n3 << 11) | (n3 >>> 21)) >>> 0;
    }
    cols.push(col);
  }
  // rows of the system: bit r of the output = XOR of x_b over b with that bit in column b
  const rows = Array.from({ length: 128 }, (_, r) => {
    const bits = new Uint8Array(129);
    for (let b = 0; b < 128; b++) bits[b] = (cols[b][r >>> 5] >>> (r & 31)) & 1;
    bits[128] = (s1 >>> (r & 31)) & 1;
    return bits;
  });
  const pivots: number[] = [];
  let rank = 0;
  for (let b = 0; b < 128 && rank < 128; b++) {
    const p = rows.findIndex((row, i) => i >= rank && row[b] === 1);
    if (p < 0) continue;
    [rows[rank], rows[p]] = [rows[p], rows[rank]];
    for (let i = 0; i < 128; i++) if (i !== rank && rows[i][b]) for (let c = b; c < 129; c++) rows[i][c] ^= rows[rank][c];
    pivots.push(b);
    rank++;
  }
  for (let i = rank; i < 128; i++) if (rows[i][128]) throw new Error('no state gives these outputs');
  const x = [0, 0, 0, 0];
  pivots.forEach((b, i) => {
    if (rows[i][128]) x[b >>> 5] |= 1 << (b & 31);
  });
  return [x[0] | 0, x[1] | 0, x[2] | 0, x[3] | 0, null];
}
