import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadExperiment, selectProfile } from '../../pipeline/config/load.ts';
import { figureRuns } from '../../pipeline/config/figures.ts';
import { planProfile } from '../../pipeline/config/plan.ts';
import { checkShardCount, splitRuns } from '../../pipeline/scale/shards.ts';
import { checkPartition, checkTime, logDir, parseCpus, slurmScripts, type SlurmOptions } from '../../pipeline/scale/slurm.ts';
import { main as slurm, USAGE as SLURM_USAGE } from '../../pipeline/commands/slurm.ts';
import { commandStatus } from '../../pipeline/commands/run.ts';

/**
 * The edges of scaling out, without a cluster: the scripts `npm run slurm` writes (the final build names
 * the array's shard count; every path quoted, for bash and for sbatch's own reading of #SBATCH lines;
 * the cache probed before anything is submitted), its flags checked before a script is written, and a
 * split into more shards than runs refused alike by --plan, --shard and npm run slurm.
 * (tests/e2e/slurm-scripts.test.ts runs these scripts on a real Slurm.)
 */

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const TSX = join(REPO, 'node_modules', '.bin', 'tsx');
const tmp = mkdtempSync(join(tmpdir(), 'smdd-scale-edges-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base: SlurmOptions = { profile: 'quick', shards: 3, repo: '/srv/smdd', cacheServer: 'http://cache:3000', out: '/srv/smdd/slurm/quick' };
const cli = (file: string, args: string[]) => spawnSync(TSX, [file, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false', NO_COLOR: '1' } });
/** The runs the quick profile's figures draw, as the build and slurm commands count them. */
const quickRuns = () => {
  const { name, profile } = selectProfile(loadExperiment('experiment.json', REPO), 'quick');
  return figureRuns(planProfile(name, profile)).length;
};

/** `npm run slurm` in this process, ending as the command does: its status and what it wrote to stderr. */
function runSlurm(args: string[]): { status: number; stderr: string } {
  let stderr = '';
  const status = commandStatus(slurm, args, { stdout: () => {}, stderr: (s) => (stderr += s) }, SLURM_USAGE);
  return { status, stderr };
}

describe('the final Slurm job builds with the array\'s shard count', () => {
  it('final.sbatch runs npm run build -- P --shards N', () => {
    const { final } = slurmScripts({ ...base, shards: 5 });
    expect(final).toMatch(/^npm run --silent build -- 'quick' --shards 5$/m);
  });

  it('even when --shards differs from the profile\'s execution.shards', () => {
    const out = join(tmp, 'shards-3');
    const r = runSlurm(['quick', '--cache-server', 'http://cache:3000', '--shards', '3', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(selectProfile(loadExperiment('experiment.json', REPO), 'quick').profile.execution.shards).not.toBe(3);
    expect(readFileSync(join(out, 'final.sbatch'), 'utf8')).toContain("build -- 'quick' --shards 3\n");
    expect(readFileSync(join(out, 'shard.sbatch'), 'utf8')).toContain('#SBATCH --array=1-3\n');
  });
});

describe('every path in the scripts is quoted', () => {
  const odd = { ...base, repo: "/tmp/a b/it's $HOME", out: '/tmp/out #1 50% "q"', scratch: '/tmp/scratch `x`' };
  const scripts = slurmScripts(odd);

  it('#SBATCH --output in double quotes, with " and \\ escaped and % doubled (Slurm expands %a in it)', () => {
    expect(scripts.shard).toContain('#SBATCH --output="/tmp/out #1 50%% \\"q\\"/logs/shard-%a.log"\n');
    expect(scripts.final).toContain('#SBATCH --output="/tmp/out #1 50%% \\"q\\"/logs/final.log"\n');
    expect(logDir('/plain/out')).toBe('/plain/out/logs');
  });

  it('each occurrence of a path for bash stands inside quotes', () => {
    for (const [name, text] of Object.entries(scripts)) {
      const bash = text.split('\n').filter((l) => !l.startsWith('#')).join('\n');
      const paths = [odd.repo, odd.out, odd.scratch].map((p) => p.replace(/'/g, `'\\''`));
      for (const p of paths) {
        for (let at = bash.indexOf(p); at >= 0; at = bash.indexOf(p, at + 1)) expect(bash[at - 1], `${name}: ${bash.slice(at - 10, at + p.length + 10)}`).toBe("'");
      }
    }
    expect(scripts.shard).toContain(`REPO='/tmp/a b/it'\\''s $HOME'\n`);
    expect(scripts.shard).toContain(`WORK='/tmp/scratch \`x\`'/'quick-shard-'"$i"'-of-3'\n`);
    expect(scripts.submit).toContain(`cd '/tmp/out #1 50% "q"'\n`);
  });

  it('the scripts parse (bash -n)', () => {
    for (const [name, text] of Object.entries(scripts)) {
      const file = join(tmp, `${name}.sh`);
      writeFileSync(file, text);
      const r = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
    }
  });

  it('refuses an --out that no #SBATCH line can hold (a newline), or whose logs Slurm would not name (a backslash)', () => {
    for (const out of ['/tmp/a\nb', '/tmp/a\\b']) {
      expect(() => slurmScripts({ ...base, out })).toThrow(ConfigError);
      expect(() => slurmScripts({ ...base, out })).toThrow(/^--out: .*newline or a backslash/);
    }
  });

  it('a shard\'s copy of the workspace leaves out an --out or --scratch inside it', () => {
    const { shard } = slurmScripts({ ...base, out: '/srv/smdd/runs out/q', scratch: '/srv/smdd/work' });
    expect(shard).toContain("--no-wildcards --exclude='./runs out/q' --exclude='./work' -cf - .");
    expect(slurmScripts(base).shard).not.toContain('--no-wildcards'); // slurm/ and .shards/ are left out already
  });
});

describe('submit.sh probes the cache before it submits anything', () => {
  it('runs npm run --silent cache:probe in the workspace, with the scripts\' server, before the first sbatch', () => {
    const { submit } = slurmScripts({ ...base, repo: '/srv/a b' });
    const probe = submit.indexOf(`(cd '/srv/a b' && npm run --silent cache:probe -- --server 'http://cache:3000')`);
    expect(probe).toBeGreaterThan(-1);
    expect(submit.indexOf('NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN:?')).toBeLessThan(probe);
    expect(submit.indexOf('$(sbatch')).toBeGreaterThan(probe);
    expect(submit).toMatch(/^set -euo pipefail$/m); // a failed probe ends the script
  });
});

describe('npm run slurm checks --cpus, --time and --partition', () => {
  const args = (...more: string[]) => ['quick', '--cache-server', 'http://cache:3000', '--out', join(tmp, 'never'), ...more];
  afterEach(() => expect(existsSync(join(tmp, 'never')), 'nothing is written for a bad flag').toBe(false));

  it.each([
    ['--cpus', 'abc'], ['--cpus', '0'], ['--cpus', '-1'], ['--cpus', '1.5'], ['--cpus', '2x'], ['--cpus', ''],
    ['--time', 'abc'], ['--time', '6h'], ['--time', '1:2:3:4'], ['--time', '1-2-3'], ['--time', '1.5'], ['--time', ''], ['--time', '6:00:00\n#SBATCH --x'],
    ['--partition', 'a b'], ['--partition', 'gpu\n#SBATCH --exclusive'], ['--partition', ''], ['--partition', 'a\tb'],
  ])('%s %j: exit 2, error naming the flag and the value', (flag, value) => {
    const r = runSlurm(args(`${flag}=${value}`));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^error: ${flag}: expected `));
    expect(r.stderr.split('\n')[0]).toContain(`found ${JSON.stringify(value)}`);
  });

  it('accepts what Slurm accepts', () => {
    for (const t of ['30', '0', '30:00', '6:00:00', '100:00:00', '1-0', '1-12', '1-12:30', '1-12:30:15', 'INFINITE', 'unlimited']) expect(checkTime(t)).toBe(t);
    for (const p of ['main', 'gpu,cpu', 'debug-2']) expect(checkPartition(p)).toBe(p);
    expect(parseCpus('1')).toBe(1);
    expect(parseCpus('16')).toBe(16);
    const out = join(tmp, 'flags');
    const r = runSlurm(['quick', '--cache-server', 'http://cache:3000', '--out', out, '--cpus', '4', '--time', '1-12:30', '--partition', 'gpu,cpu']);
    expect(r.status, r.stderr).toBe(0);
    const shard = readFileSync(join(out, 'shard.sbatch'), 'utf8');
    for (const line of ['#SBATCH --cpus-per-task=4', '#SBATCH --time=1-12:30', '#SBATCH --partition="gpu,cpu"']) expect(shard).toContain(`${line}\n`);
  });

  it('the command itself exits 2 with error: on stderr', () => {
    const r = cli('pipeline/commands/slurm.ts', args('--cpus', 'abc'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: --cpus: expected a positive integer \(CPUs per task\), found "abc"\n/);
  });
});

describe('more shards than runs is refused, by one check', () => {
  it('checkShardCount names the profile, the runs and the shards', () => {
    expect(() => checkShardCount('p', 4, 4, '--shards 4')).not.toThrow();
    expect(() => checkShardCount('p', 4, 5, '--shards 5')).toThrow(ConfigError);
    expect(() => checkShardCount('p', 4, 5, '--shards 5')).toThrow('--shards 5: profile p has 4 runs, fewer than the 5 shards asked for, so 1 shard would have no run; split it into at most 4 shards');
  });

  it('up to as many shards as runs, no shard is empty', () => {
    const { name, profile } = selectProfile(loadExperiment('experiment.json', REPO), 'quick');
    const runs = figureRuns(planProfile(name, profile));
    for (const n of [1, 2, runs.length - 1, runs.length]) expect(splitRuns(runs, n).filter((s) => s.runs.length === 0), `${n} shards`).toEqual([]);
  });

  it('npm run build -- P --plan, --plan --json and --shard i/N refuse it (exit 2) and build nothing; npm run slurm says the same', () => {
    const runs = quickRuns();
    const n = runs + 1;
    const says = `profile quick has ${runs} runs, fewer than the ${n} shards asked for, so 1 shard would have no run; split it into at most ${runs} shards`;
    for (const [args, source] of [[['--plan', '--shards', String(n)], `--shards ${n}`], [['--plan', '--json', '--shards', String(n)], `--shards ${n}`], [['--shard', `${n}/${n}`], `--shard ${n}/${n}`]] as const) {
      const r = cli('pipeline/commands/build.ts', ['quick', ...args]);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`error: ${source}: ${says}\n`);
      expect(r.stdout, 'no plan, no matrix').toBe('');
      expect(r.stderr).not.toMatch(/nx run|profile "quick", shard/);
    }
    const s = runSlurm(['quick', '--cache-server', 'http://cache:3000', '--shards', String(n), '--out', join(tmp, 'too-many')]);
    expect(s.status).toBe(2);
    expect(s.stderr).toContain(`error: --shards ${n}: ${says}\n`);
    expect(existsSync(join(tmp, 'too-many'))).toBe(false);
  });

  it('--plan --json at exactly as many shards as runs gives every shard a run', () => {
    const runs = quickRuns();
    const r = cli('pipeline/commands/build.ts', ['quick', '--plan', '--json', '--shards', String(runs)]);
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { count: number; indices: number[]; shards: { runs: string[] }[] };
    expect(plan.count).toBe(runs);
    expect(plan.indices).toHaveLength(runs);
    expect(plan.shards.every((s) => s.runs.length === 1)).toBe(true);
  });
});
