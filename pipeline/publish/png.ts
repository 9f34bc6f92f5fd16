import { closeSync, openSync, readSync } from 'node:fs';
import { PNG } from 'pngjs';
import { FormatError } from '../files/error.ts';

/**
 * The 1x image a page shows on an ordinary screen, from the 2x PNG the build renders: each output pixel
 * is the mean of a 2x2 block, averaged with alpha as weight (so an anti-aliased edge keeps its colour),
 * in integer arithmetic, so the bytes depend on the input alone. Opaque images are written as RGB.
 */
export function halvePng(bytes: Buffer, file: string): { png: Buffer; width: number; height: number } {
  let src: PNG;
  try {
    src = PNG.sync.read(bytes);
  } catch (e) {
    throw new FormatError(file, `not a readable PNG (${(e as Error).message})`);
  }
  const width = Math.ceil(src.width / 2);
  const height = Math.ceil(src.height / 2);
  const out = new PNG({ width, height });
  let opaque = true;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let a = 0, r = 0, g = 0, b = 0, count = 0;
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const sx = 2 * x + dx, sy = 2 * y + dy;
          if (sx >= src.width || sy >= src.height) continue;
          const i = 4 * (sy * src.width + sx);
          const alpha = src.data[i + 3];
          r += src.data[i] * alpha;
          g += src.data[i + 1] * alpha;
          b += src.data[i + 2] * alpha;
          a += alpha;
          count++;
        }
      }
      const o = 4 * (y * width + x);
      out.data[o] = a ? Math.round(r / a) : 0;
      out.data[o + 1] = a ? Math.round(g / a) : 0;
      out.data[o + 2] = a ? Math.round(b / a) : 0;
      out.data[o + 3] = Math.round(a / count);
      if (out.data[o + 3] !== 255) opaque = false;
    }
  }
  return { png: PNG.sync.write(out, { colorType: opaque ? 2 : 6, deflateLevel: 9 }), width, height };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Whether bytes start like a PNG: the signature, then the IHDR chunk (which holds the size). */
const isPngHeader = (b: Uint8Array) => b.length >= 24 && PNG_SIGNATURE.equals(b.subarray(0, 8)) && Buffer.from(b.subarray(12, 16)).toString('latin1') === 'IHDR';

/** A PNG's width and height from its header, without decoding the image (an unchanged figure's PNG is never decoded). */
export function pngSize(file: string): { width: number; height: number } {
  const head = pngHeader(file);
  return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
}

/** The first 24 bytes of a PNG file (its signature and IHDR chunk, which hold its size); anything else is refused, naming the file. */
export function pngHeader(file: string): Buffer {
  const head = Buffer.alloc(24);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 24, 0);
  } finally {
    closeSync(fd);
  }
  if (!isPngHeader(head)) throw new FormatError(file, 'not a PNG (no PNG signature and IHDR header)');
  return head;
}
