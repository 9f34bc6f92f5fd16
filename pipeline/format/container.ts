import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../files/atomic.ts';
import { FormatError } from '../files/error.ts';
import type { z } from 'zod';
import { ContainerHeader, type ArrayEntry, type DType } from '../contracts/container.ts';
import { describeIssues } from '../contracts/read.ts';

/**
 * The project's one binary format, for data sets and weights alike.
 *
 *   bytes 0..7    magic "SMDDBIN\0"
 *   bytes 8..11   format version (uint32 LE)
 *   bytes 12..15  header length H in bytes (uint32 LE)
 *   bytes 16..    header: UTF-8 JSON {kind, meta, arrays: [{name, dtype, length}]}, space-padded to 8
 *   then          each array's little-endian bytes in header order, each zero-padded to 8
 *   last 32 bytes SHA-256 of everything before them
 */
export const MAGIC = 'SMDDBIN\0';
const FORMAT_VERSION = 1;

type TypedArray = Float32Array | Float64Array | Uint32Array | Int32Array;
type Meta = Record<string, unknown>;

interface Container {
  kind: string;
  meta: Meta;
  arrays: Record<string, TypedArray>;
}

const CTOR = { f32: Float32Array, f64: Float64Array, u32: Uint32Array, i32: Int32Array } as const;

function dtypeOf(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Uint32Array) return 'u32';
  if (a instanceof Int32Array) return 'i32';
  throw new Error('unsupported array type');
}

const pad8 = (n: number) => (n + 7) & ~7;

if (endianness() !== 'LE') throw new Error('this pipeline writes little-endian files and needs a little-endian machine');

/** The JSON header of a container (contracts/container.ts): its kind, its meta, and each array's name, dtype and length. */
export function headerOf(c: Container): ContainerHeader & { meta: Meta } {
  return { kind: c.kind, meta: c.meta, arrays: Object.entries(c.arrays).map(([name, a]) => ({ name, dtype: dtypeOf(a), length: a.length })) };
}

export function encodeContainer(c: Container): Buffer {
  const entries = Object.entries(c.arrays);
  const headerJson = JSON.stringify(headerOf(c));
  const headerBytes = Buffer.from(headerJson, 'utf8');
  const headerLen = pad8(headerBytes.length);
  let size = 16 + headerLen;
  for (const [, a] of entries) size += pad8(a.byteLength);
  const out = Buffer.alloc(size + 32, 0);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(FORMAT_VERSION, 8);
  out.writeUInt32LE(headerLen, 12);
  out.fill(0x20, 16, 16 + headerLen);
  headerBytes.copy(out, 16);
  let off = 16 + headerLen;
  for (const [, a] of entries) {
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(out, off);
    off += pad8(a.byteLength);
  }
  createHash('sha256').update(out.subarray(0, size)).digest().copy(out, size);
  return out;
}

/** Decodes a container; any truncation, corruption or foreign file is a FormatError naming `file`. */
export function decodeContainer(buf: Buffer, file: string, expectKind?: string): Container {
  if (buf.length < 16 + 32) throw new FormatError(file, `truncated: ${buf.length} bytes is shorter than any valid file`);
  if (buf.toString('latin1', 0, 8) !== MAGIC) throw new FormatError(file, 'not a pipeline data file (bad magic bytes)');
  const version = buf.readUInt32LE(8);
  if (version !== FORMAT_VERSION) throw new FormatError(file, `format version ${version}, this code reads version ${FORMAT_VERSION}`);
  const headerLen = buf.readUInt32LE(12);
  if (16 + headerLen + 32 > buf.length) throw new FormatError(file, `truncated: header needs ${16 + headerLen + 32} bytes, file has ${buf.length}`);
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8', 16, 16 + headerLen));
  } catch {
    throw new FormatError(file, 'corrupt: header is not valid JSON');
  }
  const parsed = ContainerHeader.safeParse(raw);
  if (!parsed.success) throw new FormatError(file, `corrupt: ${describeIssues(parsed.error.issues, raw, ['header'])}`);
  const header = parsed.data;
  let size = 16 + headerLen;
  for (const a of header.arrays) size += pad8(a.length * CTOR[a.dtype].BYTES_PER_ELEMENT);
  if (buf.length < size + 32) throw new FormatError(file, `truncated: expected ${size + 32} bytes, found ${buf.length}`);
  if (buf.length > size + 32) throw new FormatError(file, `corrupt: expected ${size + 32} bytes, found ${buf.length} (trailing bytes)`);
  const digest = createHash('sha256').update(buf.subarray(0, size)).digest();
  if (!digest.equals(buf.subarray(size, size + 32))) throw new FormatError(file, 'corrupt: checksum mismatch');
  if (expectKind !== undefined && header.kind !== expectKind) throw new FormatError(file, `holds "${header.kind}", expected "${expectKind}"`);
  const arrays: Record<string, TypedArray> = {};
  let off = 16 + headerLen;
  for (const a of header.arrays) {
    const Ctor = CTOR[a.dtype];
    const bytes = a.length * Ctor.BYTES_PER_ELEMENT;
    const copy = new Uint8Array(bytes); // copy so the array is aligned and owns its memory
    copy.set(buf.subarray(off, off + bytes));
    arrays[a.name] = new Ctor(copy.buffer);
    off += pad8(bytes);
  }
  return { kind: header.kind, meta: header.meta ?? {}, arrays };
}

export function writeContainer(file: string, c: Container): void {
  writeFileAtomic(file, encodeContainer(c));
}

export function readContainer(file: string, expectKind?: string): Container {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new FormatError(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return decodeContainer(buf, file, expectKind);
}

/**
 * Reads a container of one kind, its header checked against that kind's contract (contracts/points.ts,
 * weights.ts, snapshots.ts, checkpoint.ts): its meta as the contract types it, and its arrays (each of the
 * name and dtype the contract gives).
 */
export function readKind<M>(file: string, kind: string, header: z.ZodType<{ kind: string; meta: M; arrays: ArrayEntry[] }>): { meta: M; arrays: Record<string, TypedArray> } {
  const c = readContainer(file, kind);
  const raw = headerOf(c);
  const parsed = header.safeParse(raw);
  if (!parsed.success) throw new FormatError(file, `corrupt: ${describeIssues(parsed.error.issues, raw, ['header'])}`);
  return { meta: parsed.data.meta, arrays: c.arrays };
}
