import { posix } from 'node:path';

/**
 * Where the pipeline's products live, relative to the workspace: every directory and file name
 * is made here and nowhere else. Paths use '/', as Nx does.
 */
export const profileDataDir = (profile: string) => `data/${profile}`;
export const profileDistDir = (profile: string) => `dist/${profile}`;

/**
 * The Nx projects of a profile, by name (the task graph makes them, the build and the shards run
 * them): one per data set (target data), per run (train, geometry), per figure (render), and the
 * profile's own (build: the gallery).
 */
export const projectNames = {
  data: (profile: string, id: string) => `${profile}-data-${id}`,
  run: (profile: string, id: string) => `${profile}-run-${id}`,
  figure: (profile: string, name: string) => `${profile}-figure-${name}`,
  build: (profile: string) => profile,
};

/** The code the tasks run: every stage through one command, the stage runner (which loads pipeline/stages/<stage>.ts only), and the gallery's command. */
export const taskCode = {
  runner: 'pipeline/commands/stage.ts',
  stage: (stage: string) => `pipeline/stages/${stage}.ts`,
  gallery: 'pipeline/commands/gallery.ts',
};

/** A data set (a training set, or the test set) of a profile. */
export function datasetFiles(profile: string, id: string) {
  const dir = `${profileDataDir(profile)}/datasets/${id}`;
  return { dir, points: `${dir}/points.bin`, description: `${dir}/dataset.json` };
}
export type DatasetFiles = ReturnType<typeof datasetFiles>;

/** A training run: what training writes (weights, every init's weights, metrics, timing; a checkpoint while it runs) and what geometry writes. */
export function runFiles(profile: string, id: string) {
  const dir = `${profileDataDir(profile)}/runs/${id}`;
  const geometry = `${dir}/geometry`;
  return {
    dir,
    weights: `${dir}/weights.bin`,
    inits: `${dir}/inits.bin`, // every init's final weights (weights.bin: the chosen one's)
    metrics: `${dir}/metrics.json`,
    timing: `${dir}/timing.json`,
    snapshots: `${dir}/snapshots.bin`, // only when the run keeps weight snapshots
    checkpoint: `${dir}/checkpoint.bin`,
    geometry: {
      dir: geometry, features: `${geometry}/features.json`, examples: `${geometry}/examples.json`, summary: `${geometry}/summary.json`,
      moments: `${geometry}/moments.json`, // only with weight snapshots: the geometry at each
    },
  };
}
export type RunFiles = ReturnType<typeof runFiles>;

/** A figure's sources, under figures/. */
export function figureSources(name: string, root = '.') {
  const dir = posix.join(root, 'figures', name);
  return { dir, figure: `${dir}/figure.json`, spec: `${dir}/spec.vl.json` };
}
export const themeFile = (root = '.') => posix.join(root, 'figures', 'theme.json');

/** The files of a built figure in dist/<profile>/, by kind: <name>.svg, .png (2x) and .provenance.json. */
export const FIGURE_FILES = { svg: '.svg', png: '.png', provenance: '.provenance.json' } as const;
export type FigureFileKind = keyof typeof FIGURE_FILES;
export const FIGURE_FILE_KINDS = Object.keys(FIGURE_FILES) as FigureFileKind[];

/** A figure as built for a profile; `task` is where its Nx project lives. */
export function figureOutputs(profile: string, name: string) {
  const base = `${profileDistDir(profile)}/${name}`;
  return {
    task: `${profileDataDir(profile)}/figures/${name}`, svg: base + FIGURE_FILES.svg, png: base + FIGURE_FILES.png, provenance: base + FIGURE_FILES.provenance,
    /** The slider's frames, for a figure that has them: <name>.frames/<i>.png. */
    frames: `${base}.frames`,
  };
}

/** Frame i of a figure's slider, relative to dist/<profile>/. */
export const frameFile = (name: string, i: number) => `${name}.frames/${String(i).padStart(3, '0')}.png`;
