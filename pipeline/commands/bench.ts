import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { benchTable, CASES, measure, PROBLEM, type CaseResults } from '../bench.ts';
import { ENGINES } from '../engines/registry.ts';
import { UserError } from '../errors.ts';
import { runNx } from '../nx/run.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   npm run bench [-- --m 4] [-- --rounds 3]
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
    ({ values } = parseArgs({ args: argv, options: { m: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, case: { type: 'string' } } }));
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const m = positiveInt('m', values.m);
  if (values.case) {
    const c = CASES.find((k) => k.id === values.case);
    if (!c) throw new UserError(`--case: expected one of ${CASES.map((k) => k.id).join(', ')}, found "${values.case}"`);
    io.stdout(JSON.stringify(await measure(c, m)) + '\n');
    return 0;
  }
  const rounds = positiveInt('rounds', values.rounds);
  for (const task of new Set(CASES.map((c) => ENGINES[c.engine].builtBy).filter((t): t is string => !!t))) {
    io.stderr(`building ${task} (Nx; from the cache when nothing changed)\n`);
    const status = runNx(['run', task, '--outputStyle=stream'], 'pipe');
    if (status !== 0) throw new UserError(`nx run ${task} failed (exit ${status}); the engines it builds for cannot be measured`);
  }
  const results = new Map<string, CaseResults>();
  io.stderr(`problem: T = ${PROBLEM.T}, n = ${PROBLEM.n}, m = ${m}, S = ${PROBLEM.sparsity}; ${rounds} rounds\n`);
  for (let r = 0; r < rounds; r++) {
    for (const c of CASES) {
      const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1], '--case', c.id, '--m', String(m)], { encoding: 'utf8' });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !line.startsWith('{')) {
        io.stderr(`round ${r + 1}: ${c.label} failed:\n${child.stderr}\n`);
        continue;
      }
      const o = JSON.parse(line);
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

runCommand(import.meta.url, main);
