import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Whether the module at `moduleUrl` (its `import.meta.url`) is the script node was started with, so that a
 * command file runs its `main` only then and is a plain module when imported. Both sides go through
 * realpath: a checkout under a path with spaces (a percent-encoded URL) or reached through a symlink is
 * still recognised. The one test every entry point uses.
 */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
