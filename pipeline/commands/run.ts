import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILE, loadExperiment, selectProfile } from '../config/load.ts';
import { planProfile } from '../config/plan.ts';
import { UserError } from '../errors.ts';

/**
 * How every command starts and ends. A command file (one per npm script, and the two the Nx tasks run)
 * is a thin `main(argv, io)` over the library: it parses its arguments, calls library functions and
 * prints through `io`; it returns its exit status (0, or its own: verify's 1 for a failed claim,
 * figures:diff's 1 under --fail-on-change) and ends with
 *
 *   runCommand(import.meta.url, main, USAGE?)
 *
 * which runs `main` only when that file is the script node was started with, so that the file is a plain
 * module when imported (by a test). The one way to end:
 *  - main's number: the exit status;
 *  - a UserError thrown (errors.ts: ConfigError, FormatError, the errors of publish, figures:diff,
 *    figures:comment, ...): `error: <message>` on stderr, then the usage line when the command gives one,
 *    and exit status 2;
 *  - anything else is a bug: it is not caught, and node ends with its stack (exit status 1).
 */

/** Where a command prints. */
export interface Output {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** The process's own stdout and stderr. */
const STDIO: Output = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
};

/** A command's main: its arguments (after the script's name) and where it prints; its exit status. */
export type Main = (argv: string[], io: Output) => number | Promise<number>;

/**
 * Whether the module at `moduleUrl` (its `import.meta.url`) is the script node was started with. Both
 * sides go through realpath: a checkout under a path with spaces (a percent-encoded URL) or reached
 * through a symlink is still recognised.
 */
function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/** The end of a command that threw `e`: a UserError is printed (`error: <message>`, then `usage`) and gives 2; anything else is thrown on. */
function userErrorStatus(e: unknown, io: Output, usage?: string): number {
  if (!(e instanceof UserError)) throw e;
  io.stderr(`error: ${e.message}\n${usage === undefined ? '' : `${usage}\n`}`);
  return 2;
}

/**
 * The exit status `main` ends with on `argv`, in this process, by the rule above: main's own number, or 2
 * after printing a UserError; a bug is thrown on (or rejects). What runCommand exits with; a test calls it
 * to run a command in-process.
 */
export function commandStatus(main: (argv: string[], io: Output) => number, argv: string[], io?: Output, usage?: string): number;
export function commandStatus(main: Main, argv: string[], io?: Output, usage?: string): number | Promise<number>;
export function commandStatus(main: Main, argv: string[], io: Output = STDIO, usage?: string): number | Promise<number> {
  try {
    const status = main(argv, io);
    return status instanceof Promise ? status.catch((e: unknown) => userErrorStatus(e, io, usage)) : status;
  } catch (e) {
    return userErrorStatus(e, io, usage);
  }
}

/** Runs `main` on the process's arguments and exits with its status, when `moduleUrl` is the script node started; else does nothing. */
export function runCommand(moduleUrl: string, main: Main, usage?: string): void {
  if (!isMain(moduleUrl)) return;
  const status = commandStatus(main, process.argv.slice(2), STDIO, usage);
  // A rejection (a bug) is left unhandled: node prints its stack and exits 1.
  if (typeof status === 'number') process.exit(status);
  else void status.then((s) => process.exit(s));
}

/** The arguments of a command over one profile, `[<profile>] [--config experiment.json]`: the profile and its plan. */
export function profileArgs(argv: string[], strings: string[] = []) {
  let parsed;
  try {
    const options: Record<string, { type: 'string'; default?: string }> = { config: { type: 'string', default: DEFAULT_CONFIG_FILE } };
    for (const o of strings) options[o] = { type: 'string' };
    parsed = parseArgs({ args: argv, allowPositionals: true, options });
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const { name, profile } = selectProfile(loadExperiment(parsed.values.config as string), parsed.positionals[0]);
  /** The values of `strings` given (undefined where not). */
  const values = parsed.values as Record<string, string | undefined>;
  return { name, profile, plan: planProfile(name, profile), values };
}
