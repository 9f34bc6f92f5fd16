import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';

/** What the steps after the build (gallery, site publishing, figure diff) share. */

export const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** A file name as a relative URL (figure names are folder names, but a space or '#' must not break a link). */
export const href = (file: string) => escapeHtml(encodeURIComponent(file));

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** 1234567 -> "1,234,567", the same on every machine (no locale). */
export const groupDigits = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** HEAD of the git work tree at `root`, or null when git does not answer (no git, not a repository). */
export function gitCommit(root: string): string | null {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : null;
  } catch {
    return null;
  }
}
