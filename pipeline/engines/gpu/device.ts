import { NO_ADAPTER } from './no-adapter.mjs';
import { create, globals } from 'webgpu';

/**
 * WebGPU adapter and device acquisition for the gpu engine, through npm's `webgpu` (Dawn's Node
 * bindings). Dawn needs a driver underneath: Vulkan on Linux, Metal on macOS, D3D12 on Windows.
 */

let gpu: GPU | null = null;

/** The one GPU entry point of the process (Dawn's instance), with WebGPU's globals (GPUBufferUsage ...) installed. */
function entry(): GPU {
  if (!gpu) {
    Object.assign(globalThis, globals);
    gpu = create([]);
  }
  return gpu;
}

export class NoAdapterError extends Error {
  constructor() {
    super(NO_ADAPTER);
    this.name = 'NoAdapterError';
  }
}

/** The adapter Dawn picks (a discrete GPU when there is one), or a NoAdapterError. */
export async function requestAdapter(): Promise<GPUAdapter> {
  const adapter = await entry().requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new NoAdapterError();
  return adapter;
}

/** Limits the engine raises to what the adapter offers (its buffers grow with T, n and the inits of a run). */
const RAISED: (keyof GPUSupportedLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
];

/** The number of storage buffers the training kernels bind at once. */
export const STORAGE_BUFFERS_NEEDED = 9;

export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; minUniformBufferOffsetAlignment: number };
}

/** A device with the adapter's highest limits for what the engine needs. Uncaptured errors are thrown on the next check. */
export async function requestDevice(): Promise<GpuContext> {
  const adapter = await requestAdapter();
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED) requiredLimits[name] = adapter.limits[name] as number;
  if (requiredLimits.maxStorageBuffersPerShaderStage < STORAGE_BUFFERS_NEEDED) {
    throw new Error(`the WebGPU adapter (${adapter.info.description}) offers ${requiredLimits.maxStorageBuffersPerShaderStage} storage buffers per shader stage; the gpu engine needs ${STORAGE_BUFFERS_NEEDED}`);
  }
  const device = await adapter.requestDevice({ requiredLimits });
  return {
    adapter,
    device,
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      minUniformBufferOffsetAlignment: device.limits.minUniformBufferOffsetAlignment,
    },
  };
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The driver as far as WebGPU tells it (Dawn puts the driver's name and version in the description). */
  driver: string;
}

/** What the results of the gpu engine may depend on besides its code: the adapter and its driver (for cache keys). */
export async function adapterDescription(): Promise<AdapterDescription> {
  const { info } = await requestAdapter();
  const driver = (info as GPUAdapterInfo & { driver?: string }).driver;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    driver: driver && driver.length > 0 ? driver : info.description,
  };
}
