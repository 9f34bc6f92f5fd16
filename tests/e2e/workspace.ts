import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A fresh copy of the project's files (tracked and new, not ignored) sharing the repo's node_modules. */
export function makeWorkspace(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    try {
      cpSync(join(REPO, f), join(dir, f));
    } catch {
      // deleted in the work tree but still in the index
    }
  }
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

export function removeWorkspace(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface BuildResult {
  status: number;
  output: string;
  ran: string[]; // tasks Nx executed
  cached: string[]; // tasks Nx restored from its cache
  seconds: number;
}

/** Output and exit of a command run in `dir` (its own process group, so a test can kill all of it). */
export interface RunResult {
  status: number | null;
  signal: string | null;
  output: string;
}

function runTsx(dir: string, args: string[], env: NodeJS.ProcessEnv = process.env, onSpawn?: (kill: () => void) => void): Promise<RunResult> {
  const child = spawn(join(dir, 'node_modules/.bin/tsx'), args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  onSpawn?.(() => process.kill(-child.pid!, 'SIGKILL')); // the whole group: tsx and its node
  return new Promise((ok) => child.on('close', (status, signal) => ok({ status, signal, output })));
}

/** One pipeline stage, as a task runs it: `tsx pipeline/commands/stage.ts <stage> ...`. Asynchronous, so the test worker stays responsive. */
export function stage(dir: string, args: string[], onSpawn?: (kill: () => void) => void): Promise<RunResult> {
  return runTsx(dir, ['pipeline/commands/stage.ts', ...args], process.env, onSpawn);
}

/** `npm run build -- <profile>` in `dir`, and which tasks ran or came from the cache. */
export async function build(dir: string, profile: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}, onSpawn?: (kill: () => void) => void): Promise<BuildResult & { signal: string | null }> {
  const started = performance.now();
  const env = { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0', NO_COLOR: '1', ...extraEnv };
  const { status, signal, output } = await runTsx(dir, ['pipeline/commands/build.ts', profile, ...args], env, onSpawn);
  const ran: string[] = [];
  const cached: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^> nx run (\S+)(.*)$/.exec(line.trim());
    if (!m || m[1].endsWith(':build')) continue;
    (/cache|left as is/.test(m[2]) ? cached : ran).push(m[1]);
  }
  return { status: status ?? 1, signal, output, ran: ran.sort(), cached: cached.sort(), seconds: (performance.now() - started) / 1000 };
}

/** Every file under `root`, as relative paths, sorted. */
export function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, p));
    else out.push(p);
  }
  return out.sort();
}

export function editJson(file: string, edit: (v: any) => void): void {
  const v = JSON.parse(readFileSync(file, 'utf8'));
  edit(v);
  writeFileSync(file, JSON.stringify(v, null, 2) + '\n');
}
