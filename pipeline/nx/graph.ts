import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DEFAULT_CONFIG_FILE, loadExperiment, selectProfile } from '../config/load.ts';
import { planProfile, specHash } from '../config/plan.ts';
import { planFigure } from '../config/figures.ts';
import { figureOutputs, figureSources, profileDataDir, projectNames, taskCode, themeFile } from '../config/layout.ts';
import { batchSize } from '../config/size.ts';
import { PROFILES_ENV } from './run.ts';
import { ENGINES, ENGINE_NAMES, engineFile, engineName, runThreads, type EngineName } from '../engines/registry.ts';
import { codeHash, codeInputs } from './code-inputs.ts';
import { STAGE_FILES } from '../contracts/stages.ts';
import { figureParts } from '../render/spec.ts';

/**
 * The task graph, derived from experiment.json: for every profile, a project per data set
 * (target `data`), per run (`train`, `geometry`), per figure (`render`), and one named after
 * the profile (`build`: the gallery dist/<profile>/index.html and manifest.json); and
 * `kernel:wasm`, the fast engine's WebAssembly.
 *
 * What keys each task's cache entry, so that an edit reruns what it can change and nothing else:
 * - its slice of the config: the hash of its spec is in its command (Nx hashes a task's options);
 * - its own code: the files and packages its stage loads, read from the import graph
 *   (code-inputs.ts), with the engine module that a training run uses;
 * - the bytes of what its dependencies wrote that it reads (never timing.json). A task rerun that
 *   writes the same bytes as before leaves every task after it in the cache: early cutoff.
 */
type Target = Record<string, unknown>;
type Project = { name: string; tags: string[]; targets: Record<string, Target> };

const RUNNER = taskCode.runner;

/** Stages run as `node --import tsx`: in one process, half a second sooner than tsx's CLI, which starts a second node. */
const TSX = 'node --import tsx';
const command = (stage: string, profile: string, id: string, spec: unknown, codeHash?: string) => ({
  command: `${TSX} ${RUNNER} ${stage} --profile ${profile} --id ${id} --spec-hash ${specHash(spec)}${codeHash ? ` --code-hash ${codeHash}` : ''}`,
  cwd: '{workspaceRoot}',
});

/** The code a stage loads: as Nx inputs (its files and packages, and tsx, which runs every stage), and its hash. */
function codeOf(root: string, stage: string, extraEntries: string[] = []): { inputs: unknown[]; hash: string } {
  const code = codeInputs(root, [RUNNER, taskCode.stage(stage), ...extraEntries]);
  const inputs = [...code.files.map((f) => `{workspaceRoot}/${f}`), { externalDependencies: [...new Set(['tsx', ...code.packages])].sort() }];
  return { inputs, hash: codeHash(root, code) };
}

/** The profiles PROFILES_ENV names (an empty value: none, only the kernel), or undefined when it is not set. */
function profilesFromEnv(): string[] | undefined {
  const v = process.env[PROFILES_ENV];
  return v === undefined ? undefined : v.split(',').filter(Boolean);
}

/** Hashes the files with these names among the direct dependencies' outputs. */
const upstream = (...names: string[]) => names.map((n) => ({ dependentTasksOutputFiles: `**/${n}`, transitive: false }));

/**
 * The projects of the profiles named in `only` (default: the environment's PROFILES_ENV, comma-separated, when it
 * is set; else every profile). A build asks for its own profile's alone: the graph Nx computes on every command
 * is then that profile's (61 projects for quick, not 3,313), which is most of a no-change rebuild's time. The
 * whole config is validated either way.
 */
export function buildGraph(root: string, configFile = DEFAULT_CONFIG_FILE, only = profilesFromEnv()): Record<string, Project> {
  // Every training.engine names a registered engine: checked here, since the config does not know them.
  const exp = loadExperiment(configFile, root, { engines: ENGINE_NAMES });
  for (const name of only ?? []) if (!exp.profileNames.includes(name)) throw new Error(`${PROFILES_ENV}: no profile named "${name}" in ${configFile}`);
  const projects: Record<string, Project> = {};
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const kernelRoot = 'pipeline/kernel';
  projects[kernelRoot] = {
    name: 'kernel', tags: ['stage:kernel'],
    targets: {
      wasm: {
        executor: 'nx:run-commands', options: { command: `node_modules/.bin/${pkg.scripts['build:kernel']}`, cwd: '{workspaceRoot}' }, cache: true,
        inputs: ['{projectRoot}/assembly/**/*', { externalDependencies: ['assemblyscript'] }],
        outputs: ['{projectRoot}/build'],
      },
    },
  };
  const code = {
    data: codeOf(root, 'data'),
    geometry: codeOf(root, 'geometry'),
    render: codeOf(root, 'render'),
    train: Object.fromEntries(
      (Object.keys(ENGINES) as EngineName[]).map((e) => [e, codeOf(root, 'train', [relative(root, engineFile(e)).split('\\').join('/')])]),
    ) as Record<EngineName, ReturnType<typeof codeOf>>,
  };

  for (const name of only ?? exp.profileNames) {
    const plan = planProfile(name, selectProfile(exp, name).profile);
    const tags = [`profile:${name}`];
    const dataProject = (id: string) => projectNames.data(name, id);
    const runProject = (id: string) => projectNames.run(name, id);
    for (const ds of [...plan.testSets, ...plan.datasets]) {
      projects[ds.files.dir] = {
        name: dataProject(ds.id), tags: [...tags, 'stage:data'],
        targets: {
          data: {
            executor: 'nx:run-commands', options: command('data', name, ds.id, ds.spec), cache: true,
            inputs: code.data.inputs, outputs: STAGE_FILES.data.writes(ds.files).map((f) => `{workspaceRoot}/${f}`),
          },
        },
      };
    }
    for (const run of plan.runs) {
      const dataDeps = [dataProject(run.testSet.id), ...(run.dataset ? [dataProject(run.dataset.id)] : [])];
      const engine = engineName(run.spec.training.engine);
      const { builtBy, runtimeProbe } = ENGINES[engine];
      const build = builtBy ? [{ projects: [builtBy.split(':')[0]], target: builtBy.split(':')[1] }] : [];
      projects[run.files.dir] = {
        name: runProject(run.id), tags: [...tags, 'stage:run'],
        targets: {
          train: {
            executor: 'nx:run-commands', options: command('train', name, run.id, run.spec), cache: true,
            // A run that spreads over all cores (a threaded engine, a step large enough) is not run beside another (that would only slow both).
            parallelism: runThreads(engine, run.execution.workers, batchSize(run.T, run.spec.training) * run.spec.n) === 1,
            dependsOn: [{ projects: dataDeps, target: 'data' }, ...build],
            inputs: [...code.train[engine].inputs, ...upstream(...STAGE_FILES.train.reads), ...(runtimeProbe ? [{ runtime: runtimeProbe }] : [])],
            outputs: STAGE_FILES.train.writes(run.files).map((f) => `{workspaceRoot}/${f}`),
          },
          geometry: {
            executor: 'nx:run-commands', options: command('geometry', name, run.id, run.spec), cache: true,
            dependsOn: ['train', { projects: dataDeps, target: 'data' }],
            inputs: [...code.geometry.inputs, ...upstream(...STAGE_FILES.geometry.reads)],
            outputs: STAGE_FILES.geometry.writes(run.files).map((f) => `{workspaceRoot}/${f}`),
          },
        },
      };
    }
    const figureProjects: string[] = [];
    for (const figure of plan.figures) {
      const fp = planFigure(plan, figure, root);
      const out = figureOutputs(name, figure);
      const project = projectNames.figure(name, figure);
      figureProjects.push(project);
      projects[out.task] = {
        name: project, tags: [...tags, 'stage:render'],
        targets: {
          render: {
            // The render code's hash goes into the figure's provenance; it changes only with the render code itself.
            executor: 'nx:run-commands', options: command('render', name, figure, fp.configSlice, code.render.hash), cache: true,
            dependsOn: [{ projects: fp.runs.map((r) => runProject(r.id)), target: 'geometry' }],
            inputs: [...code.render.inputs, `{workspaceRoot}/${figureSources(figure).dir}/**/*`, ...figureParts(figure, fp.figure, root).map((p) => `{workspaceRoot}/${p}`), `{workspaceRoot}/${themeFile()}`, ...upstream(...STAGE_FILES.render.reads)],
            outputs: STAGE_FILES.render.writes(out).map((f) => `{workspaceRoot}/${f}`),
          },
        },
      };
    }
    // The gallery and manifest: never cached, since the manifest records the commit the build ran at.
    projects[profileDataDir(name)] = {
      name: projectNames.build(name), tags,
      targets: {
        build: {
          executor: 'nx:run-commands', options: { command: `${TSX} ${taskCode.gallery} --profile ${name}`, cwd: '{workspaceRoot}' },
          dependsOn: [{ projects: figureProjects, target: 'render' }], cache: false, inputs: [],
        },
      },
    };
  }
  return projects;
}
