import { PNG } from 'pngjs';
import { FormatError } from '../files/error.ts';

/**
 * The 1x image a page shows on an ordinary screen, from the 2x PNG the build renders: each output pixel
 * is the mean of a 2x2 block, averaged with alpha as weight (so an anti-aliased edge keeps its colour),
 * in integer arithmetic, so the bytes depend on the input alone. Opaque images are written as RGB.
 */
export function halvePng(bytes: Buffer, file: string): Buffer {
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
  return PNG.sync.write(out, { colorType: opaque ? 2 : 6, deflateLevel: 9 });
}

/** Width and height of a PNG, from its IHDR chunk. */
export function pngSize(bytes: Buffer, file: string): { width: number; height: number } {
  if (bytes.length < 24 || bytes.readUInt32BE(0) !== 0x89504e47 || bytes.toString('latin1', 12, 16) !== 'IHDR') throw new FormatError(file, 'not a PNG file');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
