import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, extname, join, posix, relative } from 'node:path';

/**
 * The code a task loads, read from the import graph: the files reached from its entry files by
 * static imports (`import ... from`, `export ... from`, `import '...'`) and by
 * `new URL('./file', import.meta.url)` (a worker, a config file, a WGSL shader), and the npm packages
 * those files import (statically, by a literal dynamic `import('pkg')`, or by
 * `require.resolve('pkg/...')`). Type-only imports load nothing and are skipped. A dynamic
 * `import()` of a project file is a choice made at run time (the stage runner,
 * commands/stage.ts, picks the stage; the engine registry the engine), so it is not
 * followed: the task graph names the chosen module as an entry instead. Comments are not
 * stripped: an import in a comment counts, which can only make a task rerun, never miss a change.
 */
interface CodeInputs {
  files: string[]; // workspace-relative, '/'-separated, sorted
  packages: string[]; // npm package names, sorted
}

const SOURCE = new Set(['.ts', '.mts', '.js', '.mjs', '.cjs', '.json', '.conf', '.wgsl']);
/** Files read as data, whose text imports nothing. */
const LEAF = new Set(['.json', '.conf', '.wgsl']);
const BUILTINS = new Set(builtinModules);

const STATIC = /(?:^|[\s;])(import|export)\s+(type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
const URL_REF = /new\s+URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g;
const RESOLVE = /\.resolve\(\s*['"]([^'"./][^'"]*)['"]\s*\)/g;

const isRelative = (spec: string) => spec.startsWith('./') || spec.startsWith('../');
const packageName = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
const isPackage = (spec: string) => !isRelative(spec) && !spec.startsWith('/') && !spec.startsWith('node:') && !BUILTINS.has(packageName(spec));

/** The imports of one file's text, by kind. */
export function scanImports(text: string): { follow: string[]; packages: string[] } {
  const follow: string[] = [];
  const packages: string[] = [];
  const add = (spec: string, followable: boolean) => {
    if (isRelative(spec)) {
      if (followable) follow.push(spec);
    } else if (isPackage(spec)) packages.push(packageName(spec));
  };
  for (const [, , typeOnly, spec] of text.matchAll(STATIC)) if (!typeOnly) add(spec, true);
  for (const [, spec] of text.matchAll(DYNAMIC)) add(spec, false);
  for (const [, spec] of text.matchAll(URL_REF)) if (SOURCE.has(extname(spec))) follow.push(spec);
  for (const [, spec] of text.matchAll(RESOLVE)) if (isPackage(spec)) packages.push(packageName(spec));
  return { follow, packages };
}

/** Every file and package loaded from `entries` (workspace-relative paths under `root`). */
export function codeInputs(root: string, entries: string[]): CodeInputs {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    const abs = join(root, file);
    if (!existsSync(abs)) throw new Error(`${file}: imported but missing (from the import graph of ${entries.join(', ')})`);
    files.add(file);
    if (LEAF.has(extname(file))) return;
    const { follow, packages: pkgs } = scanImports(readFileSync(abs, 'utf8'));
    for (const p of pkgs) packages.add(p);
    for (const spec of follow) visit(relative(root, join(dirname(abs), spec)).split('\\').join(posix.sep));
  };
  for (const e of entries) visit(e);
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/** A hash of that code: each file's path and bytes, each package's name and installed version. */
export function codeHash(root: string, code: CodeInputs): string {
  const h = createHash('sha256');
  for (const f of code.files) h.update(`${f}\0`).update(readFileSync(join(root, f))).update('\0');
  for (const p of code.packages) {
    const manifest = join(root, 'node_modules', p, 'package.json');
    h.update(`${p}@${existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version : 'absent'}\0`);
  }
  return h.digest('hex').slice(0, 16);
}
