/**
 * The gpu engine's buffers, one way for every module of it: WebGPU's usage and map flags (spelled out,
 * so that no module depends on the globals being installed), creation with the size padded as WebGPU
 * wants, an upload, and a read-back through a staging buffer.
 */
export const USAGE = { MAP_READ: 0x01, COPY_SRC: 0x04, COPY_DST: 0x08, UNIFORM: 0x40, STORAGE: 0x80 } as const;
export const MAP_MODE_READ = 0x01;

/** `bytes` rounded up to a multiple of 16, at least 16 (every binding and copy size is then legal). */
export const padded = (bytes: number) => Math.max(16, Math.ceil(bytes / 16) * 16);

export function createBuffer(device: GPUDevice, bytes: number, usage: number, label: string): GPUBuffer {
  return device.createBuffer({ size: padded(bytes), usage, label });
}

/** A new buffer holding `data` (usage gains COPY_DST). */
export function upload(device: GPUDevice, data: ArrayBufferView, usage: number, label: string): GPUBuffer {
  const b = createBuffer(device, data.byteLength, usage | USAGE.COPY_DST, label);
  if (data.byteLength > 0) device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  return b;
}

/** `bytes` of `src` from `offset`, after the work submitted so far. */
export async function readBack(device: GPUDevice, src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
  const staging = createBuffer(device, bytes, USAGE.MAP_READ | USAGE.COPY_DST, 'read-back');
  try {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, offset, staging, 0, padded(bytes));
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(MAP_MODE_READ);
    return staging.getMappedRange(0, bytes).slice(0);
  } finally {
    staging.destroy();
  }
}
