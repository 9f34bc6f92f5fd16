import { posix } from 'node:path';
import { datasetFiles, runFiles, type DatasetFiles, type RunFiles } from '../config/layout.ts';
import type { figureOutputs } from '../config/layout.ts';

/**
 * What each stage writes (its task's outputs, which Nx caches and restores) and which of its dependencies'
 * outputs it reads (as names under a dependency's output, which key its task's cache entry: Nx's
 * `dependentTasksOutputFiles: **\/<name>`). The task graph (nx/graph.ts) takes both from here. A stage reads
 * only deterministic files, never timing.json: a rerun task that writes the same bytes as before leaves
 * every task after it in the cache.
 *
 *   data      writes  datasets/<id>/: points.bin (contracts/points.ts), dataset.json
 *   train     reads   points.bin, the kernel's *.wasm (a fast-engine run)
 *             writes  weights.bin (weights.ts), inits.bin (inits.ts), metrics.json (metrics.ts), timing.json (timing.ts),
 *                     snapshots.bin (snapshots.ts; a run that keeps weight snapshots)
 *   geometry  reads   points.bin, weights.bin, inits.bin, metrics.json, snapshots.bin
 *             writes  geometry/: summary.json (summary.ts), features.json, examples.json, moments.json
 *   render    reads   geometry/*.json
 *             writes  <figure>.svg, .png, .provenance.json (provenance.ts), .frames/
 *
 * (The profile's build task, the gallery, reads dist/<profile>/ and writes index.html and manifest.json
 * (manifest.ts); it is never cached, so it has neither here.)
 */

// A data set's and a run's files, for their names: the same for every profile and id.
const dataset = datasetFiles('<profile>', '<id>');
const run = runFiles('<profile>', '<run>');
const inRun = (file: string) => posix.relative(run.dir, file);
const POINTS = posix.relative(dataset.dir, dataset.points);

/** The fast engine's WebAssembly, the output of kernel:wasm (pipeline/kernel/build/). */
const KERNEL_WASM = '*.wasm';

type FigureOutputs = ReturnType<typeof figureOutputs>;

interface StageFiles<Files> {
  /** The files and folders it writes, from the layout of its data set, run or figure. */
  writes: (files: Files) => string[];
  /** What it reads of its dependencies' outputs, by name under theirs. */
  reads: readonly string[];
}

export const STAGE_FILES: {
  data: StageFiles<DatasetFiles>;
  train: StageFiles<RunFiles>;
  geometry: StageFiles<RunFiles>;
  render: StageFiles<FigureOutputs>;
} = {
  data: { writes: (d) => [d.dir], reads: [] },
  train: { writes: (r) => [r.weights, r.inits, r.metrics, r.timing, r.snapshots], reads: [POINTS, KERNEL_WASM] },
  geometry: { writes: (r) => [r.geometry.dir], reads: [POINTS, inRun(run.weights), inRun(run.inits), inRun(run.metrics), inRun(run.snapshots)] },
  render: { writes: (f) => [f.svg, f.png, f.provenance, f.frames], reads: [`${inRun(run.geometry.dir)}/*.json`] },
};
