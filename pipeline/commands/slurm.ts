import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILE, loadExperiment, selectProfile } from '../config/load.ts';
import { figureRuns } from '../config/figures.ts';
import { planProfile } from '../config/plan.ts';
import { ENGINE_NAMES } from '../engines/registry.ts';
import { writeFileAtomic } from '../files/atomic.ts';
import { checkShardCount } from '../scale/shards.ts';
import { checkPartition, checkTime, parseCpus, slurmScripts } from '../scale/slurm.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   npm run slurm -- <profile> --cache-server URL [--shards N] [--out DIR] [--scratch DIR] [--time HH:MM:SS]
 *                   [--partition P] [--cpus N] [--verify] [--submit]
 * Writes the Slurm batch scripts of a profile's shards (scale/slurm.ts) into DIR (default slurm/<profile>):
 * shard.sbatch, final.sbatch and submit.sh. With --submit it runs submit.sh and prints the two job ids.
 * Every flag is checked before anything is written.
 */
export const USAGE = 'usage: npm run slurm -- <profile> --cache-server URL [--shards N] [--out DIR] [--scratch DIR] [--time T] [--partition P] [--cpus N] [--verify] [--submit]';

export function main(argv: string[], io: Output): number {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        shards: { type: 'string' }, 'cache-server': { type: 'string' }, out: { type: 'string' }, scratch: { type: 'string' },
        time: { type: 'string' }, partition: { type: 'string' }, cpus: { type: 'string' }, verify: { type: 'boolean' },
        submit: { type: 'boolean' }, config: { type: 'string', default: DEFAULT_CONFIG_FILE },
      },
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  // As the build does: a training.engine that names no engine stops it here, before any job is queued.
  const { name, profile } = selectProfile(loadExperiment(values.config, undefined, { engines: ENGINE_NAMES }), positionals[0]);
  if (!values['cache-server'] || !/^https?:\/\/[^/]/.test(values['cache-server']))
    throw new ConfigError(`--cache-server: expected the URL of an Nx self-hosted remote cache every node reaches (http(s)://host:port), found "${values['cache-server'] ?? ''}"`);
  const shards = values.shards === undefined ? profile.execution.shards : Number(values.shards);
  if (!Number.isInteger(shards) || shards < 1) throw new ConfigError(`--shards: expected a positive integer, found "${values.shards}"`);
  const repo = process.cwd();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(repo, p));
  const out = abs(values.out ?? join('slurm', name));
  const plan = planProfile(name, profile);
  checkShardCount(name, figureRuns(plan).length, shards, values.shards === undefined ? `execution.shards = ${shards}` : `--shards ${shards}`);
  // Every flag checked before anything is written: a bad one leaves no half-made scripts behind.
  const scripts = slurmScripts({
    profile: name, shards, repo, cacheServer: values['cache-server'].replace(/\/+$/, ''), out, scratch: values.scratch && abs(values.scratch),
    time: values.time === undefined ? undefined : checkTime(values.time),
    partition: values.partition === undefined ? undefined : checkPartition(values.partition),
    cpus: values.cpus === undefined ? undefined : parseCpus(values.cpus), verify: values.verify,
  });
  mkdirSync(join(out, 'logs'), { recursive: true });
  writeFileAtomic(join(out, 'shard.sbatch'), scripts.shard);
  writeFileAtomic(join(out, 'final.sbatch'), scripts.final);
  writeFileAtomic(join(out, 'submit.sh'), scripts.submit);
  io.stderr(`[${name}] ${shards} shards: ${join(out, 'shard.sbatch')}, ${join(out, 'final.sbatch')}, ${join(out, 'submit.sh')}\n`);
  if (!values.submit) return 0;
  const r = spawnSync('bash', [join(out, 'submit.sh')], { encoding: 'utf8' });
  io.stdout(r.stdout);
  io.stderr(r.stderr);
  return r.status ?? 1;
}

runCommand(import.meta.url, main, USAGE);
