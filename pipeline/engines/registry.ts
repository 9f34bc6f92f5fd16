import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadsForStep, type Engine } from './engine.ts';
import { UserError } from '../errors.ts';

/** What a module that implements an engine exports. */
interface EngineModule {
  createEngine(workers: number): Promise<Engine>;
}

interface EngineEntry {
  /** What it is, in a few words. */
  summary: string;
  /** The module that implements it, relative to this file; only runs that use the engine load it. */
  module: string;
  /** Spreads a large step over `execution.workers` threads. */
  threaded: boolean;
  /** The Nx task (project:target) that builds what the engine loads besides its code. */
  builtBy?: string;
  /** A command whose output enters the training task's cache key: what the engine's numbers depend on besides code. */
  runtimeProbe?: string;
}

/**
 * The training engines, by the name `training.engine` gives. The config knows them only as names: the
 * build, the task graph and the train stage pass ENGINE_NAMES to the loader, which checks each
 * `training.engine` against them (pipeline/config/load.ts). So nothing here is in the import graph, and
 * the cache key, of a data, geometry or render task.
 */
export const ENGINES: Record<'fast' | 'reference' | 'tfjs' | 'gpu', EngineEntry> = {
  fast: { summary: 'WebAssembly SIMD, float32', module: '../kernel/fast-engine.ts', threaded: true, builtBy: 'kernel:wasm' },
  reference: { summary: 'plain TypeScript, float64', module: './reference.ts', threaded: false },
  tfjs: { summary: 'TensorFlow.js', module: './tfjs.ts', threaded: false, runtimeProbe: 'node pipeline/engines/tfjs-probe.mjs' },
  // Its bits depend on the GPU, its driver and Dawn: the probe names them, so they key its results.
  gpu: { summary: 'WebGPU (WGSL compute, float32) through Dawn', module: './gpu/engine.ts', threaded: false, runtimeProbe: 'node pipeline/engines/gpu/probe.mjs' },
};

export type EngineName = keyof typeof ENGINES;
export const ENGINE_NAMES = Object.keys(ENGINES) as [EngineName, ...EngineName[]];

const isEngineName = (name: string): name is EngineName => Object.hasOwn(ENGINES, name);

/** Engine `name` as a registered one; an unknown name (a config the loader has not checked against ENGINE_NAMES) is an error. */
export function engineName(name: string): EngineName {
  if (!isEngineName(name)) throw new Error(`unknown training engine "${name}"; the engines are ${ENGINE_NAMES.join(', ')}`);
  return name;
}

/** The absolute path of the module that implements engine `name`. */
export const engineFile = (name: EngineName): string => fileURLToPath(new URL(ENGINES[name].module, import.meta.url));

/** Threads one step of `pairsPerStep` (point, feature) pairs uses on engine `name` given `workers`. */
export function engineThreads(name: string, workers: number, pairsPerStep: number): number {
  return ENGINES[engineName(name)].threaded ? threadsForStep(workers, pairsPerStep) : 1;
}

/**
 * Below this many pairs per step a run is given one thread and trains beside other runs (Nx keeps as many
 * going as there are cores) rather than alone on execution.workers threads. Measured on this 2-core machine
 * (fast engine, n = 1,000, 5 rounds, medians): two threads run a step of T = 200 to 1,000 1.37-1.92x faster
 * than one (T = 1,000, m = 4: 1.37x; T = 500, m = 4: 1.43x), where two runs side by side do twice the work
 * of one, each in its own caches. From 2^20 up (T = 2,000 and more at n = 1,000) a run has the threads, and
 * the build's last long runs do not leave cores idle.
 */
const SIDE_BY_SIDE_BELOW_PAIRS = 1 << 20;

/** Threads a training run is given: execution.workers for a step of at least 2^20 pairs on a threaded engine, else one. */
export function runThreads(name: string, workers: number, pairsPerStep: number): number {
  return pairsPerStep < SIDE_BY_SIDE_BELOW_PAIRS ? 1 : engineThreads(name, workers, pairsPerStep);
}

/** The engine ready to open sessions, with `workers` threads where it uses them. Close it when done. */
export async function openEngine(name: string, workers: number): Promise<Engine> {
  const mod = (await import(pathToFileURL(engineFile(engineName(name))).href)) as EngineModule;
  return mod.createEngine(workers);
}

/** The engine cannot run on this machine: its runtime probe failed, and says why. */
class EngineUnavailableError extends UserError {
  constructor(engine: string, why: string) {
    super(`the ${engine} engine cannot run on this machine: ${why}`);
    this.name = 'EngineUnavailableError';
  }
}

/**
 * Runs the runtime probe of each engine in `names` that has one, in the workspace root: a probe that fails
 * (the gpu engine without a WebGPU adapter) stops the caller, before any task starts, with the probe's own
 * words on what is missing.
 */
export function checkEnginesRunnable(names: Iterable<string>): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  for (const name of new Set(names)) {
    const probe = ENGINES[engineName(name)].runtimeProbe;
    if (!probe) continue;
    const r = spawnSync(probe, { cwd: root, shell: true, encoding: 'utf8' });
    if (r.status !== 0) {
      // The probe's last line is its message; the lines before it are the driver's warnings.
      const said = (r.stderr || '').trim().split('\n').filter(Boolean).at(-1) ?? `\`${probe}\` exited with status ${r.status}`;
      throw new EngineUnavailableError(name, said);
    }
  }
}
