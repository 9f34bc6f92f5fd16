import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadExperiment, selectProfile } from '../config/load.ts';
import { planProfile, specHash } from '../config/plan.ts';
import { loadFigure } from '../render/figure-file.ts';
import { figureRuns } from '../render/tables.ts';
import { figureTaskSpec } from '../stages/render.ts';
import { PARALLEL_MIN_PAIRS as FAST_PARALLEL_MIN_PAIRS } from '../kernel/fast-engine.ts';

/**
 * The task graph, derived from experiment.json: for every profile, a project per data set
 * (target `data`), per run (`train`, `geometry`), per figure (`render`), and one named after
 * the profile (`build`). Each task's options carry the hash of exactly the slice of the config
 * it depends on; Nx hashes a project's options, so editing one run re-runs that run only.
 */
type Target = Record<string, unknown>;
type Project = { name: string; tags: string[]; targets: Record<string, Target> };

const cli = (stage: string, profile: string, id: string, spec: unknown) => ({
  command: `node_modules/.bin/tsx pipeline/cli.ts ${stage} --profile ${profile} --id ${id} --spec-hash ${specHash(spec)}`,
  cwd: '{workspaceRoot}',
});

export function buildGraph(root: string, configFile = 'experiment.json'): Record<string, Project> {
  const exp = loadExperiment(configFile, root);
  const projects: Record<string, Project> = {};
  // The fast engine's WebAssembly, built from source (never committed).
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  projects['pipeline/kernel'] = {
    name: 'kernel', tags: ['stage:kernel'],
    targets: {
      wasm: {
        executor: 'nx:run-commands', options: { command: `node_modules/.bin/${pkg.scripts['build:kernel']}`, cwd: '{workspaceRoot}' }, cache: true,
        inputs: ['{projectRoot}/assembly/**/*', { externalDependencies: ['assemblyscript'] }],
        outputs: ['{projectRoot}/build'],
      },
    },
  };
  for (const name of exp.profileNames) {
    const plan = planProfile(name, selectProfile(exp, name).profile);
    const tags = [`profile:${name}`];
    const dataProject = (id: string) => `${name}-data-${id}`;
    for (const ds of [plan.testSet, ...plan.datasets]) {
      projects[ds.dir] = {
        name: dataProject(ds.id), tags: [...tags, 'stage:data'],
        targets: {
          data: {
            executor: 'nx:run-commands', options: cli('data', name, ds.id, ds.spec), cache: true,
            inputs: ['dataCode'], outputs: [`{workspaceRoot}/${ds.dir}`],
          },
        },
      };
    }
    for (const run of plan.runs) {
      const dataDeps = [dataProject('test'), ...(run.dataset ? [dataProject(run.dataset)] : [])];
      const upstream = { dependentTasksOutputFiles: '**/*', transitive: false };
      const engine = run.spec.training.engine;
      const batch = run.T === 'infinity' ? run.spec.training.onlineBatchSize : run.T;
      projects[run.dir] = {
        name: `${name}-run-${run.id}`, tags: [...tags, 'stage:run'],
        targets: {
          train: {
            executor: 'nx:run-commands', options: cli('train', name, run.id, run.spec), cache: true,
            // A run that spreads over all cores is not run beside another (that would only slow both).
            parallelism: !(engine === 'fast' && run.execution.workers > 1 && batch * run.spec.n >= FAST_PARALLEL_MIN_PAIRS),
            dependsOn: [{ projects: dataDeps, target: 'data' }, ...(engine === 'fast' ? [{ projects: ['kernel'], target: 'wasm' }] : [])],
            inputs: ['trainCode', upstream, ...(engine === 'tfjs' ? [{ runtime: 'node pipeline/train/tfjs-probe.mjs' }] : [])],
            outputs: ['weights.bin', 'metrics.json', 'timing.json'].map((f) => `{workspaceRoot}/${run.dir}/${f}`),
          },
          geometry: {
            executor: 'nx:run-commands', options: cli('geometry', name, run.id, run.spec), cache: true,
            dependsOn: ['train', { projects: dataDeps, target: 'data' }],
            inputs: ['geometryCode', upstream],
            outputs: [`{workspaceRoot}/${run.dir}/geometry`],
          },
        },
      };
    }
    const figureProjects: string[] = [];
    for (const figure of plan.figures) {
      const fig = loadFigure(figure, root);
      const runs = figureRuns(plan, fig);
      const project = `${name}-figure-${figure}`;
      figureProjects.push(project);
      projects[`${plan.dataDir}/figures/${figure}`] = {
        name: project, tags: [...tags, 'stage:render'],
        targets: {
          render: {
            executor: 'nx:run-commands', options: cli('render', name, figure, figureTaskSpec(fig, runs)), cache: true,
            dependsOn: [{ projects: runs.map((r) => `${name}-run-${r.id}`), target: 'geometry' }],
            inputs: [
              'renderCode', `{workspaceRoot}/figures/${figure}/**/*`, '{workspaceRoot}/figures/theme.json',
              { dependentTasksOutputFiles: '**/*', transitive: false },
            ],
            outputs: ['svg', 'png', 'provenance.json'].map((ext) => `{workspaceRoot}/${plan.distDir}/${figure}.${ext}`),
          },
        },
      };
    }
    projects[plan.dataDir] = {
      name, tags,
      targets: { build: { executor: 'nx:noop', dependsOn: [{ projects: figureProjects, target: 'render' }], inputs: [], cache: false } },
    };
  }
  return projects;
}
