// Prints what decides the TensorFlow.js engine's numbers: the versions installed and whether
// the native binding (@tensorflow/tfjs-node) is usable. Nx hashes this line into the cache
// key of every training task that uses the tfjs engine. It must stay fast: nothing is loaded.
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const version = (name) => {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return 'absent';
  }
};
let native = 'absent';
try {
  const dir = dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  const lib = join(dir, 'lib');
  native = existsSync(lib) && readdirSync(lib).some((d) => existsSync(join(lib, d, 'tfjs_binding.node'))) ? 'native' : 'unbuilt';
} catch {}
console.log(`tfjs ${version('@tensorflow/tfjs')} wasm ${version('@tensorflow/tfjs-backend-wasm')} node ${version('@tensorflow/tfjs-node')} ${native}`);
