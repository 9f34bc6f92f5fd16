import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { benchTable, CASES, measure, PROBLEM, type CaseResults } from '../bench.ts';
import { GPU_SHAPES, gpuBenchTable, measureGpu, type GpuMeasurement, type GpuRow } from '../bench-gpu.ts';
import { contenders, coverShapes, profileBenchTable, profileShapes, shapeRates, shapeThreads, timeShape, type ShapeTimes } from '../bench-profile.ts';
import { cpus } from 'node:os';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ratesFile } from '../cost.ts';
import type { Rates } from '../contracts/rates.ts';
import { writeJsonAtomic } from '../files/json.ts';
import { loadExperiment, selectProfile } from '../config/load.ts';
import { figureRuns, planFigure } from '../config/figures.ts';
import { planProfile } from '../config/plan.ts';
import { checkEnginesRunnable, ENGINE_NAMES, ENGINES } from '../engines/registry.ts';
import { UserError } from '../errors.ts';
import { runNx } from '../nx/run.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   npm run bench [-- --m 4] [-- --rounds 3]
 *   npm run bench -- --engine gpu [--rounds 3]
 *   npm run bench -- --profile post [--all] [--rounds 3] [--workers W] [--compare NAME=MODULE ...]
 * The third: each shape the profile trains (the largest holding 95% of its pairs; --all: every one) on its engine,
 * M pairs/s, the share of the best shape's rate and the predicted training time (bench-profile.ts), with the profile's
 * execution.workers threads per run (rates.json), or --workers W (rates-W-threads.json; W = 1 feeds npm run cost --cores).
 * The second: the gpu engine on the WebGPU adapter found, at T = 1,000 and 10,000 and m = 2, 4, 8, beside the fast
 * engine on two threads in the same run, with the split of a gpu step into encoding, device and read-back (bench-gpu.ts).
 *
 * Pairs per second of one full-batch training step for every engine, in one run (bench.ts). What an engine
 * loads besides its code (the fast engine's WebAssembly) is built first, by the same Nx task as the
 * pipeline's. Each measurement runs in a process of its own: this command again, with --case. Exits 1 when
 * a measurement failed.
 */

function positiveInt(name: string, value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new UserError(`--${name}: expected a positive integer, found "${value}"`);
  return v;
}

export async function main(argv: string[], io: Output): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: {
      m: { type: 'string', default: '2' }, rounds: { type: 'string' }, engine: { type: 'string' },
      profile: { type: 'string' }, all: { type: 'boolean' }, workers: { type: 'string' }, compare: { type: 'string', multiple: true },
      case: { type: 'string' }, T: { type: 'string' }, // a measurement in a process of its own (this command again)
    } }));
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const m = positiveInt('m', values.m);
  if (values.engine !== undefined && values.engine !== 'gpu')
    throw new UserError(`--engine: the engine with a benchmark of its own is gpu (the default benchmark measures every CPU engine), found "${values.engine}"`);
  if (values.case === 'gpu') {
    io.stdout(JSON.stringify(await measureGpu(m, positiveInt('T', values.T ?? '1000'))) + '\n');
    return 0;
  }
  if (values.case) {
    const c = CASES.find((k) => k.id === values.case);
    if (!c) throw new UserError(`--case: expected one of ${CASES.map((k) => k.id).join(', ')}, found "${values.case}"`);
    io.stdout(JSON.stringify(await measure(c, m, values.T === undefined ? undefined : positiveInt('T', values.T))) + '\n');
    return 0;
  }
  if (values.profile !== undefined)
    return benchProfile(values.profile, values.all ?? false, values.compare ?? [], positiveInt('rounds', values.rounds ?? '3'),
      values.workers === undefined ? undefined : positiveInt('workers', values.workers), io);
  const rounds = positiveInt('rounds', values.rounds ?? '3');
  // Without a WebGPU adapter the gpu benchmark stops here, naming what is missing.
  if (values.engine === 'gpu') checkEnginesRunnable(['gpu']);
  for (const task of new Set(CASES.map((c) => ENGINES[c.engine].builtBy).filter((t): t is string => !!t))) {
    io.stderr(`building ${task} (Nx; from the cache when nothing changed)\n`);
    const status = runNx(['run', task, '--outputStyle=stream'], [], 'pipe');
    if (status !== 0) throw new UserError(`nx run ${task} failed (exit ${status}); the engines it builds for cannot be measured`);
  }
  /** This command again, measuring one case in a process of its own: its JSON line, or null when it failed. */
  const child = (args: string[], label: string, round: number): Record<string, unknown> | null => {
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...args], { encoding: 'utf8' });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status === 0 && line.startsWith('{')) return JSON.parse(line);
    io.stderr(`round ${round}: ${label} failed:\n${r.stderr}\n`);
    return null;
  };
  if (values.engine === 'gpu') {
    const rows: GpuRow[] = GPU_SHAPES.Ts.flatMap((T) => GPU_SHAPES.ms.map((mm) => ({ T, m: mm, gpu: [], fast: [] })));
    io.stderr(`problem: n = ${PROBLEM.n}, S = ${PROBLEM.sparsity}, T = ${GPU_SHAPES.Ts.join(' and ')}, m = ${GPU_SHAPES.ms.join(', ')}; ${rounds} rounds\n`);
    for (let r = 1; r <= rounds; r++) {
      for (const row of rows) {
        const shape = ['--m', String(row.m), '--T', String(row.T)];
        const g = child(['--case', 'gpu', ...shape], `gpu at T = ${row.T}, m = ${row.m}`, r);
        if (g) row.gpu.push(g as unknown as GpuMeasurement);
        const f = child(['--case', 'fast-2', ...shape], `fast at T = ${row.T}, m = ${row.m}`, r);
        if (f) row.fast.push(Number(f.pairsPerSecond));
        io.stderr(`round ${r}: T = ${String(row.T).padStart(5)}, m = ${row.m}: gpu ${g ? ((g.pairsPerSecond as number) / 1e6).toFixed(0) : 'failed'}, ` +
          `fast ${f ? (Number(f.pairsPerSecond) / 1e6).toFixed(0) : 'failed'} M pairs/s\n`);
      }
    }
    io.stdout(gpuBenchTable(rows));
    return rows.every((row) => row.gpu.length === rounds && row.fast.length === rounds) ? 0 : 1;
  }
  const results = new Map<string, CaseResults>();
  io.stderr(`problem: T = ${PROBLEM.T}, n = ${PROBLEM.n}, m = ${m}, S = ${PROBLEM.sparsity}; ${rounds} rounds\n`);
  for (let r = 0; r < rounds; r++) {
    for (const c of CASES) {
      const o = child(['--case', c.id, '--m', String(m)], c.label, r + 1) as { version: string; pairsPerSecond: number; peakRssMiB: number } | null;
      if (!o) continue;
      const e = results.get(c.id) ?? { pps: [] as number[], rss: [] as number[], version: String(o.version) };
      e.pps.push(o.pairsPerSecond);
      e.rss.push(o.peakRssMiB);
      results.set(c.id, e);
      io.stderr(`round ${r + 1}: ${c.label.padEnd(36)} ${(o.pairsPerSecond / 1e6).toFixed(0).padStart(6)} M pairs/s\n`);
    }
  }
  io.stdout(benchTable(results, m));
  return results.size < CASES.length ? 1 : 0;
}

/** `--profile NAME`: the shapes the profile's figures train, measured in this process, interleaved with any --compare engine. */
async function benchProfile(name: string, all: boolean, compare: string[], rounds: number, workersArg: number | undefined, io: Output): Promise<number> {
  for (const spec of compare) if (!/^[\w.-]+=.+/.test(spec)) throw new UserError(`--compare: expected NAME=MODULE (a module exporting createEngine), found "${spec}"`);
  const exp = loadExperiment(undefined, undefined, { engines: ENGINE_NAMES });
  const { name: profile, profile: p } = selectProfile(exp, name);
  const plan = planProfile(profile, p);
  const runs = figureRuns(plan, p.figures.map((f) => planFigure(plan, f)));
  const engines = new Set(runs.map((r) => r.spec.training.engine));
  if (engines.size !== 1) throw new UserError(`profile "${profile}" trains on several engines (${[...engines].join(', ')}); --profile measures one`);
  const engineName = [...engines][0];
  checkEnginesRunnable([engineName]);
  if (engineName === 'fast') {
    const status = runNx(['run', 'kernel:wasm', '--outputStyle=stream'], [], 'pipe');
    if (status !== 0) throw new UserError(`nx run kernel:wasm failed (exit ${status}); the fast engine cannot be measured`);
  }
  const shapes = profileShapes(runs);
  const measured = all ? shapes : coverShapes(shapes, 0.95);
  const workers = workersArg ?? p.execution.workers;
  const cs = await contenders(engineName, compare);
  const threads = measured.map((s) => shapeThreads(engineName, workers, s));
  io.stderr(`profile "${profile}": execution.workers ${workers}; measuring ${measured.length} of ${shapes.length} shapes on ${cs.map((c) => c.name).join(' and ')}, ` +
    `each on the threads its runs get (${threads.filter((t) => t > 1).length} on ${workers}, the rest on 1), ${rounds} rounds, about ${Math.round(measured.length * cs.length * rounds * 1.2)} s\n`);
  const times: ShapeTimes = measured.map(() => cs.map(() => []));
  try {
    for (let r = 1; r <= rounds; r++)
      for (const [i, s] of measured.entries())
        for (const [c, contender] of cs.entries()) {
          const us = await timeShape(await contender.engine(threads[i]), s);
          times[i][c].push(us);
          io.stderr(`round ${r}: T = ${String(s.T).padStart(8)}, m = ${s.m}, S = ${s.sparsity}, ${s.inits} inits, ${threads[i]} thread${threads[i] > 1 ? 's' : ''}, ${contender.name}: ${us.toFixed(0)} µs/step\n`);
        }
  } finally {
    for (const c of cs) await c.close();
  }
  io.stdout(profileBenchTable(profile, shapes, measured, times, cs.map((c) => c.name), threads));
  // The profile's own engine's rates, for `npm run cost` and the end of `npm run build`.
  const file = ratesFile(profile, p.execution.workers, workers);
  const rates: Rates = {
    profile, engine: cs[0].id, workers, cpu: cpus()[0]?.model.trim() ?? 'unknown',
    shapes: shapeRates(measured, times, 0, threads),
  };
  mkdirSync(dirname(file), { recursive: true });
  writeJsonAtomic(file, rates);
  io.stderr(`wrote ${file}: the rates npm run cost and npm run build predict training time from\n`);
  return 0;
}

runCommand(import.meta.url, main);
