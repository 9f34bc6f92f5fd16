import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadExperiment, selectProfile } from '../config/load.ts';
import { figureRuns, planFigure } from '../config/figures.ts';
import { planProfile } from '../config/plan.ts';
import { projectNames } from '../config/layout.ts';
import { ratesFile, readRates, stageTimesSummary, trainingSummary, type StageTime } from '../cost.ts';
import { checkEnginesRunnable, engineName, ENGINE_NAMES, ENGINES } from '../engines/registry.ts';
import { clearStamp, inputsDigest, upToDate, writeStamp } from '../nx/up-to-date.ts';
import { gitCommit } from '../publish/shared.ts';
import { runNx } from '../nx/run.ts';
import { checkShardCount, formatPlan, MEASURED_PAIRS_PER_SECOND, parseShard, planJson, splitRuns } from '../scale/shards.ts';
import { REQUIRE_CACHED_TRAINING, STAGE_LOG } from '../stages/context.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   npm run build [-- <profile>] [-- <extra nx flags>]
 * Validates experiment.json and the profile's figures before anything runs, then asks Nx for
 * the profile's `build` target: every figure as SVG and PNG in dist/<profile>/.
 *
 *   --plan            prints how the profile's runs split into shards (--shards N, default the profile's
 *                     execution.shards) with each shard's pairs and estimated time; builds nothing
 *   --shard i/N       runs the data, training and geometry of the i-th of N shards, and nothing else
 *   --allow-local-training
 *                     in a profile split over several machines (--shards N or execution.shards > 1), lets a plain build
 *                     train what is not in the cache; without it such a build stops and names the missing runs
 */
const USAGE = `usage: npm run build -- [<profile>] [--plan [--json] [--shards N] [--throughput MPAIRS]] [--shard i/N] [--allow-local-training] [<nx flags>]`;

/** This command's own options; everything else goes to Nx as written (e.g. --skip-nx-cache). */
const OURS = new Set(['plan', 'json', 'shards', 'throughput', 'shard', 'allow-local-training']);

export function main(argv: string[], io: Output): number {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: false,
    options: {
      plan: { type: 'boolean' }, json: { type: 'boolean' }, shards: { type: 'string' }, throughput: { type: 'string' },
      shard: { type: 'string' }, 'allow-local-training': { type: 'boolean' },
    },
  });
  const nxArgs = passThrough(argv, OURS);
  const profileArg = positionals[0] && argv[0] === positionals[0] ? positionals[0] : undefined;
  // Every training.engine names a registered engine: checked here, before Nx starts (the config does not know the engines).
  const exp = loadExperiment(undefined, undefined, { engines: ENGINE_NAMES });
  const { name, profile } = selectProfile(exp, profileArg);
  const plan = planProfile(name, profile);
  // Every figure planned (a bad figure file stops the build here), and the runs they draw.
  const runs = figureRuns(plan, profile.figures.map((f) => planFigure(plan, f)));

  // Shards: --shards N, else the profile's execution.shards.
  const count = values.shards === undefined ? profile.execution.shards : Number(values.shards);
  if (!Number.isInteger(count) || count < 1) throw new ConfigError(`--shards: expected a positive integer, found "${values.shards}"`);
  if (values.plan) {
    const rate = values.throughput === undefined ? MEASURED_PAIRS_PER_SECOND : Number(values.throughput) * 1e6;
    if (!(rate > 0)) throw new ConfigError(`--throughput: expected M pairs per second (> 0), found "${values.throughput}"`);
    // An empty shard would still get a machine of its own (a matrix job): refuse the split instead.
    checkShardCount(name, runs.length, count, values.shards === undefined ? `execution.shards = ${count}` : `--shards ${count}`);
    const shards = splitRuns(runs, count);
    io.stdout((values.json ? JSON.stringify(planJson(name, shards, rate)) : formatPlan(name, shards, rate)) + '\n');
    return 0;
  }
  // An engine this machine cannot run (the gpu engine without a WebGPU adapter) stops the build here, before anything is written.
  checkEnginesRunnable(runs.map((r) => r.spec.training.engine));
  if (typeof values.shard === 'string') {
    let which;
    try {
      which = parseShard(values.shard);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
    // The split --plan would refuse: no shard of it is run either.
    checkShardCount(name, runs.length, which.count, `--shard ${which.index}/${which.count}`);
    const shard = splitRuns(runs, which.count)[which.index - 1];
    io.stderr(`profile "${name}", shard ${which.index}/${which.count}: ${shard.runs.length} of ${runs.length} runs (data, training, geometry)\n`);
    const projects = shard.runs.map((r) => projectNames.run(name, r.id)).join(',');
    return runNx(['run-many', '-t', 'geometry', `--projects=${projects}`, '--outputStyle=stream', ...nxArgs], [name]);
  }
  const sharded = count > 1 && !values['allow-local-training'];
  io.stderr(`building profile "${name}": ${runs.length} runs, ${profile.figures.length} figures -> dist/${name}/` +
    `${sharded ? ` (training only from the cache: the profile is split over ${count} shards)` : ''}\n`);
  /** The closing line on training: recorded against predicted, from this machine's rates for the profile's workers. */
  const training = () => {
    const file = ratesFile(name, profile.execution.workers);
    return trainingSummary(name, runs, readRates(file, profile.execution.workers), file);
  };
  // Nothing changed since the last build (nx/up-to-date.ts): stop before Nx. Only for a plain build: any Nx
  // flag, a sharded profile or an engine keyed by what it probes at run time (a driver) goes through Nx.
  const engines = new Set(runs.map((r) => engineName(r.spec.training.engine)));
  const stampable = nxArgs.length === 0 && !sharded && [...engines].every((e) => !ENGINES[e].runtimeProbe);
  const commit = stampable ? gitCommit('.') : null;
  if (stampable) {
    const stamp = upToDate('.', name, commit);
    if (stamp) {
      io.stderr(`nothing changed since the last build of "${name}": its inputs (config, figures, code, packages, commit) and outputs ` +
        `(data/${name}, dist/${name}) are as it left them (data/${name}/build-stamp.json); its ${stamp.tasks} tasks not run\n`);
      io.stderr(training() + '\n');
      return 0;
    }
  }
  clearStamp('.', name);
  const inputsBefore = stampable ? inputsDigest('.', name, commit) : null;
  // Each task that runs appends its stage and wall seconds here (stage.ts), summed at the end.
  const logDir = mkdtempSync(join(tmpdir(), 'smdd-stages-'));
  const stageLog = join(logDir, 'stages.jsonl');
  const started = performance.now();
  let status: number;
  let times: StageTime[] = [];
  try {
    status = runNx(['run', `${projectNames.build(name)}:build`, '--outputStyle=stream', ...nxArgs], [name], 'inherit',
      { [STAGE_LOG]: stageLog, ...(sharded ? { [REQUIRE_CACHED_TRAINING]: '1' } : {}) });
    if (existsSync(stageLog)) times = readFileSync(stageLog, 'utf8').split('\n').flatMap((l) => {
      try {
        return l.trim() ? [JSON.parse(l) as StageTime] : [];
      } catch {
        return []; // a line cut short by a killed task
      }
    });
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
  const wall = (performance.now() - started) / 1000;
  // The stamp, unless an input changed while Nx ran (its outputs may then be of the older inputs).
  if (status === 0 && stampable && inputsDigest('.', name, commit) === inputsBefore) {
    const dataTasks = new Set(runs.flatMap((r) => [r.testSet.id, ...(r.dataset ? [r.dataset.id] : [])])).size;
    const builtBy = new Set([...engines].map((e) => ENGINES[e].builtBy).filter(Boolean)).size;
    writeStamp('.', name, commit, dataTasks + 2 * runs.length + profile.figures.length + 1 + builtBy);
  }
  if (status !== 0 && sharded) {
    const missing = runs.filter((r) => !existsSync(r.files.weights));
    if (missing.length) {
      const shards = splitRuns(runs, count);
      const where = (id: string) => shards.find((s) => s.runs.some((r) => r.id === id))!.index;
      io.stderr(`error: ${missing.length} of ${runs.length} runs of profile ${name} are not in the cache, so nothing was trained here:\n` +
        missing.map((r) => `  ${r.id} (shard ${where(r.id)}/${count})`).join('\n') +
        `\nrun those shards (npm run build -- ${name} --shard i/${count}) with the shared cache, or build with --allow-local-training\n`);
    }
  }
  if (status === 0) io.stderr(training() + '\n');
  io.stderr(stageTimesSummary(times, wall) + '\n');
  return status;
}

/** The arguments after the profile that are not this command's own options: they go to Nx. */
function passThrough(argv: string[], ours: Set<string>): string[] {
  const out: string[] = [];
  const args = argv[0] && !argv[0].startsWith('-') ? argv.slice(1) : argv;
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)(=.*)?$/.exec(args[i]);
    if (m && ours.has(m[1])) {
      if (!m[2] && ['shards', 'throughput', 'shard'].includes(m[1])) i++; // its value
      continue;
    }
    out.push(args[i]);
  }
  return out;
}

runCommand(import.meta.url, main, USAGE);
