import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILE, loadExperiment, selectProfile } from '../config/load.ts';
import { planProfile } from '../config/plan.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { splitRuns } from './shards.ts';
import { figureRuns } from '../config/figures.ts';
import { isMain } from '../entry.ts';

/**
 *   npm run slurm -- <profile> --cache-server URL [--shards N] [--out DIR] [--time HH:MM:SS] [--partition P]
 *                   [--cpus N] [--verify] [--submit]
 * Writes the Slurm batch scripts that split a profile's training over a cluster, from the shard
 * command (npm run build -- P --shard i/N), so that no run is listed by hand:
 *   <out>/shard.sbatch   a job array of N tasks; task i copies the workspace (without data/, dist/,
 *                        .nx/, node_modules) to a scratch folder of its own, kept so that a task started
 *                        again (requeued, or resubmitted) resumes its runs from their checkpoints, and runs
 *                        shard i/N there, against the Nx remote cache at URL (NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
 *                        its token comes from NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN in the submitting
 *                        environment, which sbatch passes on). Not a shared NX_CACHE_DIRECTORY: Nx 24 indexes
 *                        a cache folder in a database per machine and workspace, so one machine's entries
 *                        are never another's hits, and concurrent writers of one entry are not atomic;
 *   <out>/final.sbatch   the final build in the workspace itself: every training from the remote cache,
 *                        then the figures (and npm run verify with --verify);
 *   <out>/submit.sh      submits the array, then the final job with --dependency=afterok:<array>.
 * With --submit it runs submit.sh and prints the two job ids.
 */

export interface SlurmOptions {
  profile: string;
  shards: number;
  /** The workspace (a checkout with node_modules), as the compute nodes see it. */
  repo: string;
  /** The Nx self-hosted remote cache every task reads and writes. */
  cacheServer: string;
  /** Where the scripts and the logs go. */
  out: string;
  /** Where each shard's copy of the workspace lives (default <repo>/.shards). */
  scratch?: string;
  time?: string;
  partition?: string;
  cpus?: number;
  verify?: boolean;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function slurmScripts(o: SlurmOptions): { shard: string; final: string; submit: string } {
  const common = [
    ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
    ...(o.time ? [`#SBATCH --time=${o.time}`] : []),
    `#SBATCH --cpus-per-task=${o.cpus ?? 2}`,
  ];
  const env = [
    'set -euo pipefail',
    `REPO=${q(o.repo)}`,
    `export NX_SELF_HOSTED_REMOTE_CACHE_SERVER=${q(o.cacheServer)}`,
    ': "${NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN:?set it (a token that may write) in the environment sbatch is run from}"',
  ];
  const shard = `#!/usr/bin/env bash
# Shard i of ${o.shards} of profile ${o.profile}: its data, training and geometry (npm run build -- ${o.profile} --shard i/${o.shards}).
#SBATCH --job-name=smdd-${o.profile}-shard
#SBATCH --array=1-${o.shards}
#SBATCH --output=${join(o.out, 'logs', 'shard-%a.log')}
${common.join('\n')}
${env.join('\n')}
i="$SLURM_ARRAY_TASK_ID"
# A copy of the workspace for this shard: its own data/ and Nx state, the shared node_modules. It is kept,
# so that the task started again finds its runs' checkpoints and resumes them.
WORK=${q(o.scratch ?? join(o.repo, '.shards'))}/${o.profile}-shard-$i-of-${o.shards}
mkdir -p "$WORK"
tar -C "$REPO" --exclude=./.git --exclude=./data --exclude=./dist --exclude=./.nx --exclude=./node_modules --exclude=./.shards --exclude=./slurm -cf - . | tar -C "$WORK" -xf -
ln -sfn "$REPO/node_modules" "$WORK/node_modules"
cd "$WORK"
export NX_CACHE_DIRECTORY="$WORK/.nx/cache"
echo "shard $i/${o.shards} of ${o.profile} in $WORK on $(hostname -s), remote cache $NX_SELF_HOSTED_REMOTE_CACHE_SERVER"
exec npm run --silent build -- ${o.profile} --shard "$i/${o.shards}"
`;
  const final = `#!/usr/bin/env bash
# The final build of profile ${o.profile}: every training from the shared cache (it stops and names any
# run whose shard did not finish), then the figures into dist/${o.profile}/.
#SBATCH --job-name=smdd-${o.profile}-final
#SBATCH --output=${join(o.out, 'logs', 'final.log')}
${common.join('\n')}
${env.join('\n')}
cd "$REPO"
npm run --silent build -- ${o.profile}
${o.verify ? `npm run --silent verify -- ${o.profile}\n` : ''}`;
  const submit = `#!/usr/bin/env bash
# Submits the ${o.shards} shards of ${o.profile} as one job array, then the final build once all of them succeeded.
set -euo pipefail
cd ${q(o.out)}
mkdir -p logs
array=$(sbatch --parsable shard.sbatch)
array=\${array%%;*}
final=$(sbatch --parsable --dependency=afterok:$array final.sbatch)
final=\${final%%;*}
echo "array $array"
echo "final $final"
`;
  return { shard, final, submit };
}

function main(argv: string[]): number {
  try {
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
    const { name, profile } = selectProfile(loadExperiment(values.config), positionals[0]);
    if (!values['cache-server'] || !/^https?:\/\/[^/]/.test(values['cache-server']))
      throw new ConfigError(`--cache-server: expected the URL of an Nx self-hosted remote cache every node reaches (http(s)://host:port), found "${values['cache-server'] ?? ''}"`);
    const shards = values.shards === undefined ? profile.execution.shards : Number(values.shards);
    if (!Number.isInteger(shards) || shards < 1) throw new ConfigError(`--shards: expected a positive integer, found "${values.shards}"`);
    const repo = process.cwd();
    const abs = (p: string) => (isAbsolute(p) ? p : resolve(repo, p));
    const out = abs(values.out ?? join('slurm', name));
    const plan = planProfile(name, profile);
    const empty = splitRuns(figureRuns(plan), shards).filter((s) => s.runs.length === 0);
    if (empty.length) throw new ConfigError(`--shards ${shards}: profile ${name} has only ${figureRuns(plan).length} runs; ${empty.length} shards would have none`);
    const scripts = slurmScripts({
      profile: name, shards, repo, cacheServer: values['cache-server'].replace(/\/+$/, ''), out, scratch: values.scratch && abs(values.scratch),
      time: values.time, partition: values.partition, cpus: values.cpus === undefined ? undefined : Number(values.cpus), verify: values.verify,
    });
    mkdirSync(join(out, 'logs'), { recursive: true });
    writeFileAtomic(join(out, 'shard.sbatch'), scripts.shard);
    writeFileAtomic(join(out, 'final.sbatch'), scripts.final);
    writeFileAtomic(join(out, 'submit.sh'), scripts.submit);
    process.stderr.write(`[${name}] ${shards} shards: ${join(out, 'shard.sbatch')}, ${join(out, 'final.sbatch')}, ${join(out, 'submit.sh')}\n`);
    if (!values.submit) return 0;
    const r = spawnSync('bash', [join(out, 'submit.sh')], { encoding: 'utf8' });
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    return r.status ?? 1;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

if (isMain(import.meta.url)) process.exit(main(process.argv.slice(2)));
