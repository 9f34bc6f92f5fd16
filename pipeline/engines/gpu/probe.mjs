// Prints the WebGPU adapter the gpu engine would train on: vendor, architecture, device, description
// (which names the driver and its version) and the Dawn build (npm's webgpu). The gpu engine's bits
// depend on all of them, so Nx hashes this line into the cache key of every training task that uses
// it (engines/registry.ts runtimeProbe): two machines with different GPUs never share a result.
// With no adapter it says what is missing on stderr and exits 1; `npm run build` runs it before Nx.
import { createRequire } from 'node:module';
import { create, globals } from 'webgpu';
import { NO_ADAPTER } from './no-adapter.mjs';

Object.assign(globalThis, globals);
const require = createRequire(import.meta.url);
const dawn = require('webgpu/package.json').version;
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.error(NO_ADAPTER);
  process.exit(1);
}
const { vendor, architecture, device, description } = adapter.info;
console.log(JSON.stringify({ vendor, architecture, device, description, dawn: `webgpu@${dawn}` }));
process.exit(0);
