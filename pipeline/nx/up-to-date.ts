import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { profileDataDir, profileDistDir } from '../config/layout.ts';
import { BuildStamp } from '../contracts/build-stamp.ts';
import { readContract } from '../contracts/read.ts';
import { writeJsonAtomic } from '../files/json.ts';

/**
 * "Nothing to be done", decided before Nx starts (`npm run build`, commands/build.ts). Nx answers a
 * rebuild with nothing changed from its cache, but only after it has computed the graph and hashed
 * and looked up every task: about 2 s for quick's 94 tasks and more for post's 335. A successful
 * build leaves a stamp (build-stamp.json in the profile's data folder) of
 *   - its inputs: the bytes of every file a task may read as code or config (experiment.json,
 *     figures/, pipeline/ but the kernel's build, the package files, nx.json, tsconfig.json), Node's
 *     version and platform, and the git commit the manifest records; a superset of every task's Nx
 *     inputs, so any edit Nx would see changes it;
 *   - its outputs: the path, size and modification time of every file under data/<profile>/,
 *     dist/<profile>/ and the kernel's build, as the build left them.
 * The next build with the same inputs and untouched outputs stops there. Anything else (an edit, a
 * file deleted or rewritten, another commit, an Nx flag) goes through Nx as before, and the stamp is
 * removed before Nx starts, so a failed or killed build never leaves one behind.
 */

/** Where a profile's stamp lies. */
export const stampFile = (profile: string, root = '.') => join(root, profileDataDir(profile), 'build-stamp.json');

/** Files and folders (relative to the root) whose bytes make up the inputs. */
const INPUT_FILES = ['experiment.json', 'nx.json', 'package.json', 'package-lock.json', 'tsconfig.json'];
const INPUT_DIRS = ['figures', 'pipeline'];
/** Inside the input folders, what a build writes rather than reads. */
const KERNEL_BUILD = join('pipeline', 'kernel', 'build');

/** Every file under `dir` (relative to root), sorted; none when it does not exist. */
function filesUnder(root: string, dir: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let entries;
    try {
      entries = readdirSync(join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = join(rel, e.name);
      if (skip(r)) continue;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk(dir);
  return out.sort();
}

/** SHA-256 over the inputs: each file's path and bytes, then Node's version and platform, the profile and the commit. */
export function inputsDigest(root: string, profile: string, commit: string | null): string {
  const h = createHash('sha256');
  const files = [...INPUT_FILES, ...INPUT_DIRS.flatMap((d) => filesUnder(root, d, (r) => r === KERNEL_BUILD))];
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(existsSync(join(root, f)) ? readFileSync(join(root, f)) : '(absent)');
    h.update('\0');
  }
  h.update(`node ${process.version} ${process.platform} ${process.arch}\0profile ${profile}\0commit ${commit ?? '(none)'}`);
  return h.digest('hex');
}

/** SHA-256 over the outputs: each file's path, size and modification time (ns), but the stamp's and the benchmark's own files. */
export function outputsDigest(root: string, profile: string): { digest: string; files: number } {
  const own = (r: string) => r === stampFile(profile, '') || /(^|\/)rates(-\d+-threads?)?\.json$/.test(r);
  const files = [profileDataDir(profile), profileDistDir(profile), KERNEL_BUILD].flatMap((d) => filesUnder(root, d, own));
  const h = createHash('sha256');
  for (const f of files) {
    const s = statSync(join(root, f), { bigint: true });
    h.update(`${f}\0${s.size}\0${s.mtimeNs}\n`);
  }
  return { digest: h.digest('hex'), files: files.length };
}

/** The stamp of the last build of `profile` when its inputs and outputs are still as it left them, else null. */
export function upToDate(root: string, profile: string, commit: string | null): BuildStamp | null {
  const file = stampFile(profile, root);
  if (!existsSync(file)) return null;
  let stamp: BuildStamp;
  try {
    stamp = readContract(file, BuildStamp);
  } catch {
    return null; // a stamp that does not read is no stamp: Nx decides
  }
  if (stamp.profile !== profile || stamp.inputs !== inputsDigest(root, profile, commit)) return null;
  return stamp.outputs === outputsDigest(root, profile).digest ? stamp : null;
}

/** Removes the stamp: a build through Nx is about to change what it described. */
export function clearStamp(root: string, profile: string): void {
  rmSync(stampFile(profile, root), { force: true });
}

/** Writes the stamp of a build of `profile` that has just succeeded with `tasks` tasks. */
export function writeStamp(root: string, profile: string, commit: string | null, tasks: number): void {
  const stamp: BuildStamp = { kind: 'build-stamp/1', profile, tasks, inputs: inputsDigest(root, profile, commit), outputs: outputsDigest(root, profile).digest };
  writeJsonAtomic(stampFile(profile, root), stamp);
}
