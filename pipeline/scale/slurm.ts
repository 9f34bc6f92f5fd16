import { isAbsolute, join, relative, sep } from 'node:path';
import { ConfigError } from '../config/load.ts';

/**
 * The Slurm batch scripts that split a profile's training over a cluster (`npm run slurm`,
 * commands/slurm.ts), from the shard command (npm run build -- P --shard i/N), so that no run is listed
 * by hand:
 *   <out>/shard.sbatch   a job array of N tasks; task i copies the workspace (without data/, dist/,
 *                        .nx/, node_modules) to a scratch folder of its own, kept so that a task started
 *                        again (requeued, or resubmitted) resumes its runs from their checkpoints, and runs
 *                        shard i/N there, against the Nx remote cache at URL (NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
 *                        its token comes from NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN in the submitting
 *                        environment, which sbatch passes on). Not a shared NX_CACHE_DIRECTORY: Nx 24 indexes
 *                        a cache folder in a database per machine and workspace, so one machine's entries
 *                        are never another's hits, and concurrent writers of one entry are not atomic;
 *   <out>/final.sbatch   the final build in the workspace itself (npm run build -- P --shards N): every
 *                        training from the remote cache, then the figures (and npm run verify with --verify);
 *   <out>/submit.sh      probes the cache (npm run cache:probe: the token may read and write), then submits
 *                        the array, then the final job with --dependency=afterok:<array>.
 * Every path in the scripts is quoted (a workspace or --out under a path with spaces works); --cpus, --time
 * and --partition are checked first.
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

/** A word for bash: single-quoted, so nothing in it (spaces, $, quotes, newlines) is expanded. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A value of an `#SBATCH` line: sbatch reads those lines with its own tokenizer (not bash), which
 * splits at unquoted spaces and drops everything after an unquoted `#`; inside double quotes only `"`
 * and `\` need a backslash. Slurm 22.05 accepts this form (tests/e2e/slurm-scripts.test.ts).
 */
const sbatchWord = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`;

/** Slurm's time limits: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or no limit (sbatch --time). */
const SLURM_TIME = /^(\d+(:\d+){0,2}|\d+-\d+(:\d+){0,2}|infinite|unlimited)$/i;

/** `--cpus`: CPUs per task, a positive integer. */
export function parseCpus(text: string): number {
  if (!/^[1-9]\d*$/.test(text)) throw new ConfigError(`--cpus: expected a positive integer (CPUs per task), found ${JSON.stringify(text)}`);
  return Number(text);
}

/** `--time`: one of Slurm's forms, checked here rather than by sbatch on the cluster, after the scripts are written. */
export function checkTime(text: string): string {
  if (!SLURM_TIME.test(text))
    throw new ConfigError(`--time: expected a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or INFINITE), found ${JSON.stringify(text)}`);
  return text;
}

/** `--partition`: a name or a comma-separated list; whitespace would split (or a newline end) the #SBATCH line it goes in. */
export function checkPartition(text: string): string {
  if (!/^[^\s\p{Cc}]+$/u.test(text)) throw new ConfigError(`--partition: expected a partition name without spaces or newlines, found ${JSON.stringify(text)}`);
  return text;
}

/**
 * The folder the logs go in, as the directory part of `#SBATCH --output`: `%` doubled, since Slurm expands
 * `%a`, `%j`, ... in it. A newline cannot be written in an #SBATCH line, and a backslash is Slurm's own
 * escape in file names (a job logging under such a folder failed on Slurm 22.05), so such a folder is refused.
 */
export function logDir(out: string): string {
  if (/[\n\r\\]/.test(out)) throw new ConfigError(`--out: Slurm cannot write its logs under a path with a newline or a backslash (#SBATCH --output), found ${JSON.stringify(out)}`);
  return join(out, 'logs').replace(/%/g, '%%');
}

/** What a shard's copy of the workspace leaves out: its state, the outputs, and the folders of these scripts. */
const NOT_COPIED = ['.git', 'data', 'dist', '.nx', 'node_modules', '.shards', 'slurm'];

/** A tar exclusion for `dir` if it lies inside `repo` outside NOT_COPIED, so a shard never copies logs being written, or itself. */
function excludeInside(repo: string, dir: string): string[] {
  const rel = relative(repo, dir);
  const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !NOT_COPIED.includes(rel.split(sep)[0]);
  return inside ? [`--exclude=${q(`./${rel}`)}`] : [];
}

export function slurmScripts(o: SlurmOptions): { shard: string; final: string; submit: string } {
  if (o.cpus !== undefined) parseCpus(String(o.cpus));
  if (o.time !== undefined) checkTime(o.time);
  if (o.partition !== undefined) checkPartition(o.partition);
  const logs = logDir(o.out);
  const scratch = o.scratch ?? join(o.repo, '.shards');
  const common = [
    ...(o.partition ? [`#SBATCH --partition=${sbatchWord(o.partition)}`] : []),
    ...(o.time ? [`#SBATCH --time=${o.time}`] : []),
    `#SBATCH --cpus-per-task=${o.cpus ?? 2}`,
  ];
  const env = [
    'set -euo pipefail',
    `REPO=${q(o.repo)}`,
    `export NX_SELF_HOSTED_REMOTE_CACHE_SERVER=${q(o.cacheServer)}`,
    ': "${NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN:?set it (a token that may write) in the environment sbatch is run from}"',
  ];
  // Literal paths (--no-wildcards): --out or --scratch inside the workspace is not copied into each shard.
  const own = [...excludeInside(o.repo, o.out), ...excludeInside(o.repo, scratch)];
  const excludes = [...NOT_COPIED.map((d) => `--exclude=./${d}`), ...(own.length ? ['--no-wildcards', ...own] : [])];
  const shard = `#!/usr/bin/env bash
# Shard i of ${o.shards} of profile ${o.profile}: its data, training and geometry (npm run build -- ${o.profile} --shard i/${o.shards}).
#SBATCH --job-name=smdd-${o.profile}-shard
#SBATCH --array=1-${o.shards}
#SBATCH --output=${sbatchWord(`${logs}/shard-%a.log`)}
${common.join('\n')}
${env.join('\n')}
i="$SLURM_ARRAY_TASK_ID"
# A copy of the workspace for this shard: its own data/ and Nx state, the shared node_modules. It is kept,
# so that the task started again finds its runs' checkpoints and resumes them.
WORK=${q(scratch)}/${q(`${o.profile}-shard-`)}"$i"${q(`-of-${o.shards}`)}
mkdir -p "$WORK"
tar -C "$REPO" ${excludes.join(' ')} -cf - . | tar -C "$WORK" -xf -
ln -sfn "$REPO/node_modules" "$WORK/node_modules"
cd "$WORK"
export NX_CACHE_DIRECTORY="$WORK/.nx/cache"
echo "shard $i/${o.shards} of ${o.profile} in $WORK on $(hostname -s), remote cache $NX_SELF_HOSTED_REMOTE_CACHE_SERVER"
exec npm run --silent build -- ${q(o.profile)} --shard "$i/${o.shards}"
`;
  // --shards: the final build must name the same split as the array (not the profile's execution.shards),
  // so that it trains nothing itself and names the right shard of any run missing from the cache.
  const final = `#!/usr/bin/env bash
# The final build of profile ${o.profile}: every training from the shared cache (it stops and names any
# run whose shard did not finish), then the figures into dist/${o.profile}/.
#SBATCH --job-name=smdd-${o.profile}-final
#SBATCH --output=${sbatchWord(`${logs}/final.log`)}
${common.join('\n')}
${env.join('\n')}
cd "$REPO"
npm run --silent build -- ${q(o.profile)} --shards ${o.shards}
${o.verify ? `npm run --silent verify -- ${q(o.profile)}\n` : ''}`;
  const submit = `#!/usr/bin/env bash
# Submits the ${o.shards} shards of ${o.profile} as one job array, then the final build once all of them succeeded.
set -euo pipefail
: "\${NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN:?set it (a token that may write) in the environment sbatch is run from}"
# Nothing is queued unless the cache answers this token for reading and writing: a wrong token or a cache
# out of reach would otherwise show only in the shards' logs, after they trained.
(cd ${q(o.repo)} && npm run --silent cache:probe -- --server ${q(o.cacheServer)})
cd ${q(o.out)}
mkdir -p logs
array="$(sbatch --parsable shard.sbatch)"
array="\${array%%;*}"
final="$(sbatch --parsable --dependency="afterok:$array" final.sbatch)"
final="\${final%%;*}"
echo "array $array"
echo "final $final"
`;
  return { shard, final, submit };
}
