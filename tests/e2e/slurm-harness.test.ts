import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { slurmAvailable, startSlurm, type SlurmCluster, type SlurmJobInfo } from './slurm.ts';

const slurm = slurmAvailable();
const onCi = Boolean(process.env.CI);
const why = slurm.ok ? '' : slurm.why;
if (!slurm.ok) {
  const bar = '!'.repeat(100);
  console.warn(
    `\n${bar}\n!! ${onCi ? 'FAILING' : 'SKIPPING'} the Slurm harness tests: Slurm cannot run here: ${why}\n` +
      `!! ${onCi ? 'CI is set, and a CI machine must run them (.ci/setup.sh installs munge slurmctld slurmd slurm-client).' : 'They need root and Debian\'s munge slurmctld slurmd slurm-client (.ci/setup.sh installs them).'}\n${bar}\n`,
  );
}

/** Whether a process exists and is not a zombie. */
function running(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZXx]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

async function until<T>(f: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined || Date.now() > end) return v;
    await sleep(200);
  }
}

const states = (jobs: SlurmJobInfo[]) => jobs.map((j) => `${j.arrayTaskId}:${j.state}:${j.exitCode}`).sort();

/** tests/e2e/slurm.ts starts a real one-node Slurm cluster (Debian's packages), runs job arrays and dependent jobs, and stops it cleanly. */
describe('a one-node Slurm cluster for tests', () => {
  let root: string | undefined;
  let dir: string;
  let cluster: SlurmCluster | undefined;
  const c = () => cluster!;

  beforeAll(async () => {
    if (!slurm.ok) {
      // A root CI machine has what setup installs: there, Slurm not starting is a failure, not a skip.
      if (onCi && process.getuid?.() === 0) throw new Error(`CI is set, but Slurm cannot run on this machine: ${why}`);
      return;
    }
    root = mkdtempSync(join(tmpdir(), 'slurm-harness-'));
    dir = join(root, 'cluster');
    cluster = await startSlurm(dir);
  }, 60_000);

  afterAll(async () => {
    try {
      await cluster?.stop();
    } finally {
      if (root) rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);

  it('runs a 3-task job array, then a job depending on it (afterok) that sees every task\'s output', async ({ skip }) => {
    skip(!slurm.ok, `Slurm cannot run here: ${why}`);
    const out = join(root!, 'tasks');
    const listing = join(root!, 'listing.txt');
    mkdirSync(out);
    const array = c().sbatch(
      ['--job-name=tasks'],
      `#!/bin/sh
#SBATCH --array=0-2
printf '%s %s\\n' "$SLURM_ARRAY_TASK_ID" "$SLURM_ARRAY_TASK_COUNT" > '${out}'/"$SLURM_ARRAY_TASK_ID"
`,
    );
    const final = c().sbatch(['--job-name=final', `--dependency=afterok:${array}`], `#!/bin/sh\nls '${out}' > '${listing}'\n`);
    expect(c().jobState(final)).toMatchObject({ state: 'PENDING', dependency: expect.stringContaining(`afterok:${array}`) });

    await c().waitForJobs([array, final], 60_000);

    expect(readdirSync(out).sort()).toEqual(['0', '1', '2']);
    for (const i of [0, 1, 2]) expect(readFileSync(join(out, String(i)), 'utf8')).toBe(`${i} 3\n`);
    expect(readFileSync(listing, 'utf8')).toBe('0\n1\n2\n');
    expect(states(c().jobStates(array))).toEqual(['0:COMPLETED:0:0', '1:COMPLETED:0:0', '2:COMPLETED:0:0']);
    expect(c().jobState(`${array}_1`)).toMatchObject({ arrayJobId: array, arrayTaskId: '1', state: 'COMPLETED' });
    expect(c().jobState(final)).toMatchObject({ state: 'COMPLETED', exitCode: '0:0' });
  }, 90_000);

  it('never runs a job whose afterok array has a failing task: Slurm 22.05 leaves it pending (DependencyNeverSatisfied) until cancelled', async ({ skip }) => {
    skip(!slurm.ok, `Slurm cannot run here: ${why}`);
    const marker = join(root!, 'final-ran');
    const array = c().sbatch(
      ['--job-name=one-fails'],
      `#!/bin/sh
#SBATCH --array=0-2
[ "$SLURM_ARRAY_TASK_ID" = 1 ] && exit 1
exit 0
`,
    );
    const final = c().sbatch(['--job-name=never', `--dependency=afterok:${array}`], `#!/bin/sh\ntouch '${marker}'\n`);

    await c().waitForJobs([array], 60_000);
    expect(states(c().jobStates(array))).toEqual(['0:COMPLETED:0:0', '1:FAILED:1:0', '2:COMPLETED:0:0']);

    // The controller re-evaluates the dependency on its next scheduling pass (about a second here).
    const never = await until(() => {
      const j = c().jobState(final);
      return j?.reason === 'DependencyNeverSatisfied' ? j : undefined;
    }, 20_000);
    expect(never, JSON.stringify(c().jobState(final))).toMatchObject({ state: 'PENDING', reason: 'DependencyNeverSatisfied', dependency: `afterok:${array}_*(failed)` });
    // Slurm neither runs nor cancels it by itself (no kill_invalid_depend): it is still there a few passes later.
    await sleep(3_000);
    expect(c().jobState(final)).toMatchObject({ state: 'PENDING', reason: 'DependencyNeverSatisfied' });
    await expect(c().waitForJobs([final], 1_000)).rejects.toThrow(`${final} PENDING (DependencyNeverSatisfied)`);

    c().scancel([final]);
    await c().waitForJobs([final], 20_000);
    expect(c().jobState(final)).toMatchObject({ state: 'CANCELLED' });
    expect(existsSync(marker)).toBe(false);
  }, 90_000);

  it('stops without leaving a daemon behind, and starts again in the same directory', async ({ skip }) => {
    skip(!slurm.ok, `Slurm cannot run here: ${why}`);
    const first = c();
    const before = first.pids;
    expect(running(before.slurmctld) && running(before.slurmd)).toBe(true);
    const t0 = performance.now();
    await first.stop();
    const stopSeconds = (performance.now() - t0) / 1000;
    expect([before.slurmctld, before.slurmd, before.munged].filter(running)).toEqual([]);
    await first.stop(); // a second stop (e.g. a test's own, then afterAll's) is harmless

    cluster = await startSlurm(dir);
    console.log(`Slurm: started in ${first.startSeconds.toFixed(1)} s, stopped in ${stopSeconds.toFixed(1)} s, restarted in ${c().startSeconds.toFixed(1)} s`);
    expect(c().pids.slurmctld).not.toBe(before.slurmctld);
    const id = c().sbatch([], '#!/bin/sh\ntrue\n');
    await c().waitForJobs([id], 30_000);
    expect(c().jobState(id)).toMatchObject({ state: 'COMPLETED' });
  }, 90_000);

  it('replaces the daemons of an earlier start in the same directory that was never stopped (a crashed run)', async ({ skip }) => {
    skip(!slurm.ok, `Slurm cannot run here: ${why}`);
    const crashed = c();
    const old = crashed.pids;
    cluster = await startSlurm(dir);
    expect([old.slurmctld, old.slurmd].filter(running)).toEqual([]);
    // Stopping the abandoned one must not touch the daemons that replaced it.
    await crashed.stop();
    expect(running(c().pids.slurmctld) && running(c().pids.slurmd)).toBe(true);
    const id = c().sbatch([], '#!/bin/sh\ntrue\n');
    await c().waitForJobs([id], 30_000);
    expect(c().jobState(id)).toMatchObject({ state: 'COMPLETED' });
  }, 90_000);
});
