import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeWorkspace, removeWorkspace, REPO } from './workspace.ts';

/**
 * Every npm script that takes input fails loudly on bad input (a non-zero exit and an `error:` line), run the
 * way a user runs it, from a checkout whose path holds a space, and from a symlink to it: a command that
 * only runs its main when node was started on its own file must recognise itself under both.
 */
const BAD_INPUT: Record<string, { args: string[]; env?: NodeJS.ProcessEnv; error: RegExp }> = {
  build: { args: ['nosuchprofile'], error: /error: .*no profile named "nosuchprofile"/ },
  verify: { args: ['nosuchprofile'], error: /error: .*no profile named "nosuchprofile"/ },
  cost: { args: ['nosuchprofile'], error: /error: .*no profile named "nosuchprofile"/ },
  slurm: { args: ['nosuchprofile', '--cache-server', 'http://127.0.0.1:9'], error: /error: .*no profile named "nosuchprofile"/ },
  publish: { args: ['no such site'], error: /error: .*no such site: no such folder/ },
  'figures:diff': { args: ['no such old', 'no such new'], error: /error: no such old: no such folder/ },
  'figures:comment': { args: ['no such report'], error: /error: .*no such report/ },
  'cache:probe': { args: ['--server', 'http://127.0.0.1:9'], env: { NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: 't' }, error: /error: .*127\.0\.0\.1:9/ },
  bench: { args: ['--m', 'abc'], error: /error: --m/ },
  'test:figures': { args: [], env: { FIGURES_DIST: 'no such dist' }, error: /FIGURES_DIST=no such dist: no such folder/ },
};
/** Scripts that read no input of the user's: setting up, type-checking, the test suites, compiling the kernel. */
const NO_INPUT = ['setup', 'test', 'test:unit', 'typecheck', 'build:kernel'];

interface Run { status: number | null; output: string }
function npmRun(cwd: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn('npm', ['run', '--silent', script, '--', ...args], { cwd, env: { ...process.env, NX_DAEMON: 'false', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((ok) => child.on('close', (status) => ok({ status, output })));
}

describe('every npm script, from a checkout whose path holds a space', () => {
  let ws: string;
  let link: string;
  beforeAll(() => {
    ws = makeWorkspace('smdd commands');
    link = join(tmpdir(), `smdd-link-${process.pid}`);
    symlinkSync(ws, link);
  });
  afterAll(() => {
    removeWorkspace(ws);
    rmSync(link, { force: true });
  });

  it('has a bad-input case here, or reads no input', () => {
    const scripts = Object.keys(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts).sort();
    expect(scripts).toEqual([...Object.keys(BAD_INPUT), ...NO_INPUT].sort());
  });

  for (const [script, bad] of Object.entries(BAD_INPUT)) {
    it(`npm run ${script} exits non-zero with an error on bad input`, async () => {
      expect(ws).toContain(' ');
      const r = await npmRun(ws, script, bad.args, bad.env);
      expect(r.status, r.output).not.toBe(0);
      expect(r.output).toMatch(bad.error);
    }, 120_000);
  }

  it('and from a symlink to that checkout', async () => {
    for (const script of ['verify', 'cost', 'publish']) {
      const r = await npmRun(link, script, BAD_INPUT[script].args);
      expect(r.status, `${script}: ${r.output}`).toBe(2);
      expect(r.output).toMatch(BAD_INPUT[script].error);
    }
  }, 120_000);
});
