import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeWorkspace, removeWorkspace } from './workspace.ts';
import { startCacheServer, type CacheServer } from './nx-cache-server.ts';
import { slurmAvailable, startSlurm, type SlurmCluster } from './slurm.ts';
import { checkTime } from '../../pipeline/scale/slurm.ts';
import { PROBE_HASH } from '../../pipeline/scale/probe.ts';

/**
 * The scripts `npm run slurm` writes, at their edges, on a real one-node Slurm (22.05): a workspace under
 * a path with a space and an --out under one with a space, `#`, `%` and quotes. submit.sh probes the
 * cache first and queues nothing when it refuses the token; with a good token Slurm writes every log at
 * its path, each task runs its shard in its own copy, and the final job builds with --shards N (N not the
 * profile's execution.shards). npm is a stand-in that records each call (the probe runs for real), so no
 * training runs here: tests/e2e/slurm-shards.test.ts builds for real. Also: the --time forms
 * `npm run slurm` accepts are the ones sbatch accepts.
 */
const slurm = slurmAvailable();
const why = slurm.ok ? '' : slurm.why;
if (!slurm.ok) console.warn(`\n${'!'.repeat(100)}\n!! SKIPPING the Slurm script tests: Slurm cannot run here: ${why}\n${'!'.repeat(100)}\n`);
const TOKEN = 'scripts-token';
const SHARDS = 3;

describe.skipIf(!slurm.ok && !(process.env.CI && process.getuid?.() === 0))('npm run slurm\'s scripts on a real Slurm, under awkward paths', () => {
  let server: CacheServer;
  let cluster: SlurmCluster | undefined;
  let root = '';
  let repo = '';
  const paths = { out: '', scratch: '', calls: '', bin: '' };
  const npmCalls = () => (existsSync(paths.calls) ? readFileSync(paths.calls, 'utf8').trimEnd().split('\n') : []);
  /**
   * submit.sh as a user runs it: Slurm's client environment, the token, and the npm stand-in first on PATH.
   * Asynchronous: the cache server it probes answers from this very process.
   */
  const submit = (token: string): Promise<{ status: number | null; stdout: string; stderr: string }> => {
    const child = spawn('bash', [join(paths.out, 'submit.sh')], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...cluster!.env, PATH: `${paths.bin}:${cluster!.env.PATH}`, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token, NPM_CALLS: paths.calls },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    return new Promise((ok) => child.on('close', (status) => ok({ status, stdout, stderr })));
  };

  beforeAll(async () => {
    if (!slurm.ok) throw new Error(`CI is set, but Slurm cannot run on this machine: ${why}`);
    server = await startCacheServer({ writeTokens: [TOKEN] });
    root = mkdtempSync(join(tmpdir(), 'sl-scr-'));
    cluster = await startSlurm(join(root, 'c'));
    repo = makeWorkspace('smdd slurm ws');
    paths.out = join(root, `out dir #1 50% it's "q"`);
    paths.scratch = join(root, 'scratch dir');
    paths.calls = join(root, 'npm-calls.txt');
    paths.bin = join(root, 'bin');
    mkdirSync(paths.bin);
    // npm for the jobs: records its folder and arguments; the cache probe goes to the real npm.
    const realNpm = spawnSync('bash', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
    // The line is made first and appended in one write: shards run at once, and piecewise appends would interleave.
    writeFileSync(join(paths.bin, 'npm'), `#!/bin/sh\nline=$(printf '%s' "$PWD"; for a in "$@"; do printf ' [%s]' "$a"; done)\nprintf '%s\\n' "$line" >> "$NPM_CALLS"\n[ "$3" = cache:probe ] && exec '${realNpm}' "$@"\nexit 0\n`);
    chmodSync(join(paths.bin, 'npm'), 0o755);
    const gen = spawnSync(join(repo, 'node_modules/.bin/tsx'), ['pipeline/commands/slurm.ts', 'quick', '--cache-server', server.url, '--shards', String(SHARDS), '--out', paths.out, '--scratch', paths.scratch, '--cpus', '1', '--time', '10:00'], { cwd: repo, encoding: 'utf8' });
    if (gen.status !== 0) throw new Error(`npm run slurm failed: ${gen.stderr}`);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    await server?.close();
    if (repo) removeWorkspace(repo);
    if (root) rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('submit.sh queues nothing when the cache refuses the token: the probe stops it (exit 2, error naming the server)', async () => {
    const r = await submit('not-the-token');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`error: the Nx remote cache ${server.url} refused the token (NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN) for reading`);
    expect(r.stdout).toBe('');
    expect(cluster!.run('squeue', ['-h', '-t', 'all']).stdout.trim()).toBe('');
    expect(npmCalls()).toEqual([`${repo} [run] [--silent] [cache:probe] [--] [--server] [${server.url}]`]);
    expect(existsSync(join(paths.out, 'logs', 'shard-1.log'))).toBe(false);
  }, 120_000);

  it('with a good token: the logs land at the quoted paths, each task builds its shard in its copy, the final job builds with --shards N', async () => {
    rmSync(paths.calls, { force: true });
    const r = await submit(TOKEN);
    expect(r.status, r.stderr).toBe(0);
    const ids = new RegExp(`^the Nx remote cache ${server.url} answers this token: .*\\narray (\\d+)\\nfinal (\\d+)\\n$`).exec(r.stdout);
    expect(ids, r.stdout).not.toBeNull();
    const [, array, final] = ids!;
    await cluster!.waitForJobs([array, final], 120_000);
    expect(server.hashes()).toEqual([PROBE_HASH]); // the probe's entry, stored by the real probe

    const log = (name: string) => join(paths.out, 'logs', name);
    for (let i = 1; i <= SHARDS; i++) {
      expect(existsSync(log(`shard-${i}.log`)), log(`shard-${i}.log`)).toBe(true);
      expect(readFileSync(log(`shard-${i}.log`), 'utf8')).toContain(`shard ${i}/${SHARDS} of quick in ${join(paths.scratch, `quick-shard-${i}-of-${SHARDS}`)} on `);
    }
    expect(existsSync(log('final.log'))).toBe(true);
    expect(cluster!.jobStates(array).map((j) => j.state)).toEqual(Array(SHARDS).fill('COMPLETED'));
    expect(cluster!.jobState(final)).toMatchObject({ state: 'COMPLETED', exitCode: '0:0' });

    const calls = npmCalls();
    expect(calls[0]).toBe(`${repo} [run] [--silent] [cache:probe] [--] [--server] [${server.url}]`);
    expect(calls.slice(1, 1 + SHARDS).sort()).toEqual(
      Array.from({ length: SHARDS }, (_, k) => `${join(paths.scratch, `quick-shard-${k + 1}-of-${SHARDS}`)} [run] [--silent] [build] [--] [quick] [--shard] [${k + 1}/${SHARDS}]`).sort(),
    );
    expect(calls.slice(1 + SHARDS)).toEqual([`${repo} [run] [--silent] [build] [--] [quick] [--shards] [${SHARDS}]`]);
    // Each task's copy of the workspace is whole: the config is there, the shared node_modules linked.
    expect(existsSync(join(paths.scratch, `quick-shard-1-of-${SHARDS}`, 'experiment.json'))).toBe(true);
    expect(existsSync(join(paths.scratch, `quick-shard-1-of-${SHARDS}`, 'node_modules', '.bin', 'tsx'))).toBe(true);
  }, 300_000);

  it('every --time form npm run slurm accepts, sbatch accepts; the forms it refuses, sbatch refuses too', () => {
    const sbatch = (t: string) => cluster!.run('sbatch', ['--test-only', `--time=${t}`, '--wrap=true']).status;
    const accepted = ['30', '0', '30:00', '6:00:00', '100:00:00', '1-0', '1-12', '1-12:30', '1-12:30:15', 'INFINITE', 'unlimited'];
    const refused = ['abc', '6h', '1:2:3:4', '1-2-3', '1.5', ''];
    for (const t of accepted) {
      expect(checkTime(t)).toBe(t);
      expect(sbatch(t), `sbatch --time=${t}`).toBe(0);
    }
    for (const t of refused) {
      expect(() => checkTime(t), t).toThrow(/^--time: /);
      expect(sbatch(t), `sbatch --time=${t}`).not.toBe(0);
    }
  }, 60_000);
});
