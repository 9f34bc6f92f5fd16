import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/prng/rng.ts';
import { generatePoints } from '../../pipeline/data/generate.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';
import { decodeContainer, encodeContainer, MAGIC, readContainer, writeContainer } from '../../pipeline/format/container.ts';
import { FormatError } from '../../pipeline/files/error.ts';
import { readSparsePoints, writeSparsePoints, SPARSE_KIND } from '../../pipeline/format/sparse.ts';
import { readWeights, writeWeights, WEIGHTS_KIND } from '../../pipeline/format/weights.ts';
import { writeFileAtomic } from '../../pipeline/files/atomic.ts';
import { writeJsonAtomic } from '../../pipeline/files/json.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'smdd-format-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const points = () => generatePoints({ n: 200, sparsity: 0.95 }, 300, Rng.fromLabel('format/points'));
const params = () => {
  const p = xavierNormalInit(30, 3, Rng.fromLabel('format/weights'));
  const r = Rng.fromLabel('format/bias');
  for (let i = 0; i < p.n; i++) p.b[i] = r.normal();
  return p;
};

/** The error thrown by `f`, which must throw. */
function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, but none was thrown');
}

describe('sparse points files', () => {
  it('round-trip a batch of sparse points exactly, with its metadata', () => {
    const x = points();
    const file = join(dir, 'points.bin');
    writeSparsePoints(file, x, { label: 'format/points', purpose: 'train' });
    const y = readSparsePoints(file);
    expect(y.n).toBe(x.n);
    expect(y.count).toBe(x.count);
    expect(y.rowPtr).toEqual(x.rowPtr);
    expect(y.col).toEqual(x.col);
    expect(y.val).toEqual(x.val);
    expect(y.val).toBeInstanceOf(Float32Array);
    expect(y.meta.label).toBe('format/points');
    expect(y.meta.purpose).toBe('train');
    expect(y.meta.nnz).toBe(x.col.length);
  });

  it('are byte-identical when the same batch is written twice', () => {
    const a = join(dir, 'twice-a.bin'), b = join(dir, 'twice-b.bin');
    writeSparsePoints(a, points(), { label: 'x' });
    writeSparsePoints(b, points(), { label: 'x' });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('round-trip an empty batch (zero points)', () => {
    const file = join(dir, 'empty.bin');
    const x = { n: 5, count: 0, rowPtr: new Uint32Array(1), col: new Uint32Array(0), val: new Float32Array(0) };
    writeSparsePoints(file, x, { label: 'none' });
    const y = readSparsePoints(file);
    expect(y.count).toBe(0);
    expect(y.col.length).toBe(0);
  });

  it('reject a well-formed container whose columns are out of order, naming the point', () => {
    const file = join(dir, 'bad-columns.bin');
    writeContainer(file, {
      kind: SPARSE_KIND,
      meta: { label: 'x', n: 10, count: 2, nnz: 3 },
      arrays: { rowPtr: Uint32Array.from([0, 1, 3]), col: Uint32Array.from([4, 7, 2]), val: Float32Array.from([1, 0.6, 0.8]) },
    });
    const e = errorOf(() => readSparsePoints(file));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(file);
    expect(e.message).toContain('point 1');
  });
});

describe('weights files', () => {
  it('round-trip W and b exactly, with n, m and the metadata', () => {
    const p = params();
    const file = join(dir, 'weights.bin');
    writeWeights(file, p, { run: 'T30-m3-s0', finalLoss: 0.123 });
    const q = readWeights(file);
    expect(q.n).toBe(30);
    expect(q.m).toBe(3);
    expect(q.W).toEqual(p.W);
    expect(q.b).toEqual(p.b);
    expect(q.W).toBeInstanceOf(Float64Array);
    expect(q.meta.run).toBe('T30-m3-s0');
    expect(q.meta.finalLoss).toBe(0.123);
  });

  it('are byte-identical when the same weights are written twice', () => {
    const a = join(dir, 'w-a.bin'), b = join(dir, 'w-b.bin');
    writeWeights(a, params(), { run: 'r' });
    writeWeights(b, params(), { run: 'r' });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('reading a weights file as sparse points fails, naming the expected kind and the file', () => {
    const file = join(dir, 'weights-as-points.bin');
    writeWeights(file, params(), {});
    const e = errorOf(() => readSparsePoints(file));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(file);
    expect(e.message).toContain(`expected "${SPARSE_KIND}"`);
    expect(e.message).toContain(WEIGHTS_KIND);
  });

  it('reading a sparse points file as weights fails, naming the expected kind', () => {
    const file = join(dir, 'points-as-weights.bin');
    writeSparsePoints(file, points(), { label: 'x' });
    const e = errorOf(() => readWeights(file));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(`expected "${WEIGHTS_KIND}"`);
  });
});

describe('container integrity checks', () => {
  let good: Buffer;
  let headerLen: number;
  beforeAll(() => {
    const file = join(dir, 'integrity.bin');
    writeSparsePoints(file, points(), { label: 'integrity' });
    good = readFileSync(file);
    headerLen = good.readUInt32LE(12);
  });

  it('lays the file out as magic, version 1, header length, padded header, padded arrays and a 32-byte checksum', () => {
    expect(good.toString('latin1', 0, 8)).toBe(MAGIC);
    expect(good.readUInt32LE(8)).toBe(1);
    expect(headerLen % 8).toBe(0);
    const x = points();
    const pad8 = (k: number) => Math.ceil(k / 8) * 8;
    expect(good.length).toBe(16 + headerLen + pad8(x.rowPtr.byteLength) + pad8(x.col.byteLength) + pad8(x.val.byteLength) + 32);
  });

  const cuts: [string, (len: number, h: number) => number][] = [
    ['to 0 bytes', () => 0],
    ['to 10 bytes', () => 10],
    ['in the middle of the header', (_len, h) => 16 + Math.floor(h / 2)],
    ['just after the header', (_len, h) => 16 + h],
    ['by its last byte', (len) => len - 1],
  ];
  for (const [what, at] of cuts) {
    it(`rejects a file truncated ${what} with an error naming the file and "truncated"`, () => {
      const file = join(dir, `cut-${what.replace(/\W+/g, '-')}.bin`);
      const cut = at(good.length, headerLen);
      expect(cut).toBeLessThan(good.length);
      writeFileSync(file, good.subarray(0, cut));
      const e = errorOf(() => readSparsePoints(file));
      expect(e).toBeInstanceOf(FormatError);
      expect(e.message).toContain(file);
      expect(e.message).toContain('truncated');
    });
  }

  it('rejects a file with one flipped payload byte with a checksum error naming the file', () => {
    // flip a byte in each of the array region and the checksum itself
    for (const offset of [16 + headerLen + 5, good.length - 40, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[offset] ^= 0x01;
      const file = join(dir, `flipped-${offset}.bin`);
      writeFileSync(file, bad);
      const e = errorOf(() => readSparsePoints(file));
      expect(e).toBeInstanceOf(FormatError);
      expect(e.message).toContain(file);
      expect(e.message).toContain('checksum');
    }
  });

  it('rejects a file with trailing bytes', () => {
    const e = errorOf(() => decodeContainer(Buffer.concat([good, Buffer.from([0])]), 'trailing.bin'));
    expect(e.message).toContain('trailing.bin');
    expect(e.message).toContain('trailing bytes');
  });

  it('rejects a file with a wrong magic with "bad magic"', () => {
    const bad = Buffer.from(good);
    bad.write('NOTSMDD\0', 0, 'latin1');
    const file = join(dir, 'magic.bin');
    writeFileSync(file, bad);
    const e = errorOf(() => readSparsePoints(file));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(file);
    expect(e.message).toContain('bad magic');
  });

  it('rejects a file of another format version, naming both versions', () => {
    const bad = Buffer.from(good);
    bad.writeUInt32LE(2, 8);
    const e = errorOf(() => decodeContainer(bad, 'v2.bin'));
    expect(e.message).toContain('v2.bin');
    expect(e.message).toContain('version 2');
  });

  it('rejects a missing file with an error naming it', () => {
    const file = join(dir, 'does-not-exist.bin');
    const e = errorOf(() => readContainer(file));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toContain(file);
    expect(e.message).toContain('ENOENT');
  });

  it('decodes what it encodes, for every dtype and for arrays of odd byte lengths', () => {
    const arrays = {
      a: Float32Array.from([1.5, -2, 3]),
      b: Float64Array.from([Math.PI]),
      c: Uint32Array.from([0, 0xffffffff, 7]),
      d: Int32Array.from([-1, 2, -3, 4, -5]),
      e: new Float32Array(0),
    };
    const buf = encodeContainer({ kind: 'mixed', meta: { note: 'ünïcode ✓' }, arrays });
    const c = decodeContainer(buf, 'mixed.bin', 'mixed');
    expect(c.kind).toBe('mixed');
    expect(c.meta).toEqual({ note: 'ünïcode ✓' });
    for (const [k, v] of Object.entries(arrays)) {
      expect(c.arrays[k]).toBeInstanceOf(v.constructor);
      expect(Array.from(c.arrays[k])).toEqual(Array.from(v));
    }
  });
});

describe('writeFileAtomic', () => {
  it('writes the content and leaves no *.tmp file behind', () => {
    const sub = join(dir, 'atomic', 'nested'); // created on demand
    writeFileAtomic(join(sub, 'a.txt'), 'hello');
    writeFileAtomic(join(sub, 'a.txt'), 'hello again'); // replaces
    writeJsonAtomic(join(sub, 'b.json'), { x: 1 });
    writeContainer(join(sub, 'c.bin'), { kind: 'k', meta: {}, arrays: {} });
    expect(readFileSync(join(sub, 'a.txt'), 'utf8')).toBe('hello again');
    expect(JSON.parse(readFileSync(join(sub, 'b.json'), 'utf8'))).toEqual({ x: 1 });
    expect(readFileSync(join(sub, 'b.json'), 'utf8').endsWith('\n')).toBe(true);
    expect(readdirSync(sub).sort()).toEqual(['a.txt', 'b.json', 'c.bin']);
  });

  it('leaves no *.tmp file in a directory of data files after writes of points and weights', () => {
    const sub = join(dir, 'atomic-data');
    mkdirSync(sub, { recursive: true });
    writeSparsePoints(join(sub, 'p.bin'), points(), { label: 'x' });
    writeWeights(join(sub, 'w.bin'), params(), {});
    expect(readdirSync(sub).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
