// Prints the WebGPU adapter the gpu engine would train on: vendor, architecture, device, description
// (which names the driver and its version) and the Dawn build (npm's webgpu). The gpu engine's bits
// depend on all of them, so Nx hashes this line into the cache key of every training task that uses
// it (engines/registry.ts runtimeProbe): two machines with different GPUs never share a result.
// With no adapter it says what is missing on stderr and exits 1; `npm run build` runs it before Nx.
import { createRequire } from 'node:module';
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const require = createRequire(import.meta.url);
const dawn = require('webgpu/package.json').version;
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.error(
    'no WebGPU adapter: the gpu engine needs a GPU driver that Dawn can use, Vulkan on Linux, Metal on macOS or D3D12 on Windows. ' +
      'On Debian, `npm run setup` installs mesa-vulkan-drivers from bookworm-backports, a software Vulkan (lavapipe): right answers, no speed ' +
      "(bookworm's own Mesa 22.3 is too old for Dawn).",
  );
  process.exit(1);
}
const { vendor, architecture, device, description } = adapter.info;
console.log(JSON.stringify({ vendor, architecture, device, description, dawn: `webgpu@${dawn}` }));
process.exit(0);
