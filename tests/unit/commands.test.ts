import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commandStatus, type Main, type Output } from '../../pipeline/commands/run.ts';
import { UserError } from '../../pipeline/errors.ts';
import { ConfigError } from '../../pipeline/config/load.ts';
import { FormatError } from '../../pipeline/files/error.ts';
import { lowerMedian, upperMedian } from '../../pipeline/geometry/median.ts';

/**
 * Every command in one place (pipeline/commands/, one file per command) with one way to end
 * (commands/run.ts): main's number; `error: <message>` (then the usage line) and 2 on a UserError; a bug
 * crashes with its stack.
 */

const REPO = join(import.meta.dirname, '..', '..');
const TSX = join(REPO, 'node_modules', '.bin', 'tsx');
const COMMANDS = join(REPO, 'pipeline', 'commands');
const tmp = mkdtempSync(join(tmpdir(), 'smdd-commands-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function capture(): Output & { out: string; err: string } {
  const io = { out: '', err: '', stdout: (s: string) => void (io.out += s), stderr: (s: string) => void (io.err += s) };
  return io;
}

describe('the one way a command ends', () => {
  it("main's number is the exit status, whatever it printed", () => {
    const io = capture();
    expect(commandStatus((argv, o) => (o.stdout(`${argv.join(' ')}\n`), 1), ['a', 'b'], io)).toBe(1);
    expect(io.out).toBe('a b\n');
    expect(io.err).toBe('');
  });

  it('a UserError (ConfigError, FormatError, its own): `error: <message>`, then the usage line when given, and 2', () => {
    for (const e of [new UserError('bad flag'), new ConfigError('bad flag'), new FormatError('x.json', 'bad flag')]) {
      const io = capture();
      expect(commandStatus(() => { throw e; }, [], io)).toBe(2);
      expect(io.err).toBe(`error: ${e.message}\n`);
      const withUsage = capture();
      expect(commandStatus(() => { throw e; }, [], withUsage, 'usage: cmd [--flag]')).toBe(2);
      expect(withUsage.err).toBe(`error: ${e.message}\nusage: cmd [--flag]\n`);
    }
  });

  it('an asynchronous main ends the same way', async () => {
    const io = capture();
    const failing: Main = async () => { throw new ConfigError('later'); };
    await expect(commandStatus(failing, [], io, 'usage: cmd')).resolves.toBe(2);
    expect(io.err).toBe('error: later\nusage: cmd\n');
    await expect(commandStatus(async () => 0, [], capture())).resolves.toBe(0);
  });

  it('anything else is a bug: thrown on, never printed as `error:`', async () => {
    const io = capture();
    expect(() => commandStatus(() => { throw new TypeError('oops'); }, [], io)).toThrow(TypeError);
    await expect(commandStatus(async () => { throw new RangeError('later oops'); }, [], io)).rejects.toThrow(RangeError);
    expect(io.err).toBe('');
  });

  it('runCommand runs main only in the script node started, also through a symlink and a path with a space', () => {
    const dir = join(tmp, 'a dir');
    mkdirSync(dir);
    const run = pathToFileURL(join(COMMANDS, 'run.ts')).href;
    const errors = pathToFileURL(join(REPO, 'pipeline', 'errors.ts')).href;
    const script = (name: string, body: string) => {
      const file = join(dir, name);
      writeFileSync(file, `import { runCommand } from '${run}';\nimport { UserError } from '${errors}';\n${body}\n`);
      return file;
    };
    const ok = script('ok.mts', `export const main = (argv: string[]) => (console.log('ran', argv.join(' ')), 3);\nrunCommand(import.meta.url, main);`);
    const user = script('user.mts', `runCommand(import.meta.url, async () => { throw new UserError('no such thing'); }, 'usage: user <thing>');`);
    const bug = script('bug.mts', `runCommand(import.meta.url, () => { throw new TypeError('a bug'); });`);
    const importer = script('importer.mts', `import { main } from './ok.mts';\nconsole.log(typeof main);`);
    const tsx = (file: string, ...args: string[]) => spawnSync(TSX, [file, ...args], { encoding: 'utf8', cwd: tmp });

    let r = tsx(ok, 'x', 'y');
    expect([r.status, r.stdout, r.stderr]).toEqual([3, 'ran x y\n', '']);
    symlinkSync(dir, join(tmp, 'link'));
    r = tsx(join(tmp, 'link', 'ok.mts'));
    expect([r.status, r.stdout]).toEqual([3, 'ran \n']);
    r = tsx(importer);
    expect([r.status, r.stdout], 'imported, a command file does not run').toEqual([0, 'function\n']);
    r = tsx(user);
    expect([r.status, r.stdout, r.stderr]).toEqual([2, '', 'error: no such thing\nusage: user <thing>\n']);
    r = tsx(bug);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('TypeError: a bug');
    expect(r.stderr).toMatch(/\n\s+at /); // its stack
    expect(r.stderr).not.toContain('error: a bug');
  });
});

describe('pipeline/commands/', () => {
  const files = readdirSync(COMMANDS).filter((f) => f !== 'run.ts').sort();
  const scripts: Record<string, string> = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts;

  it('one file per command, each ending in runCommand', () => {
    expect(files).toEqual(['bench.ts', 'build.ts', 'cache-probe.ts', 'cost.ts', 'figures-comment.ts', 'figures-diff.ts', 'gallery.ts', 'publish.ts', 'slurm.ts', 'stage.ts', 'verify.ts']);
    for (const f of files) {
      const text = readFileSync(join(COMMANDS, f), 'utf8');
      expect(text, f).toMatch(/\nrunCommand\(import\.meta\.url, main(, USAGE)?\);\n$/);
      expect(text, `${f} ends only through the runner`).not.toMatch(/process\.exit|exitCode/);
    }
  });

  it('every npm script that runs pipeline code runs a command file', () => {
    const tsx = Object.entries(scripts).filter(([, s]) => s.startsWith('tsx '));
    expect(tsx.map(([name]) => name).sort()).toEqual(['bench', 'build', 'cache:probe', 'cost', 'figures:comment', 'figures:diff', 'publish', 'slurm', 'verify']);
    for (const [name, s] of tsx) expect(s, name).toMatch(/^tsx pipeline\/commands\/[a-z-]+\.ts$/);
  });
});

describe('the median, one module, two named behaviours', () => {
  it('odd lengths: the middle value, for both', () => {
    expect(lowerMedian([3, 1, 2])).toBe(2);
    expect(upperMedian([3, 1, 2])).toBe(2);
  });

  it('even lengths: the lower or the higher middle value, never their mean; the input is left alone', () => {
    const xs = [4, 1, 3, 2];
    expect(lowerMedian(xs)).toBe(2);
    expect(upperMedian(xs)).toBe(3);
    expect(xs).toEqual([4, 1, 3, 2]);
    expect(lowerMedian([0, 0, 1, 1])).toBe(0);
  });
});
