// What a machine without a WebGPU adapter is missing, said once: for the runtime probe (probe.mjs, plain
// Node.js, run before any build) and for the engine itself (device.ts NoAdapterError).
export const NO_ADAPTER =
  'no WebGPU adapter: the gpu engine needs a GPU driver that Dawn can use, Vulkan on Linux, Metal on macOS or D3D12 on Windows. ' +
  'On Debian, `npm run setup` installs mesa-vulkan-drivers from bookworm-backports, a software Vulkan (lavapipe): right answers, no speed ' +
  "(bookworm's own Mesa 22.3 is too old for Dawn).";
