import { execSync } from 'node:child_process';
import { REPO } from '../e2e/workspace.ts';

/** The fast engine's WebAssembly is built from source before any test, so no test runs a stale kernel. */
export default function setup(): void {
  execSync('npm run --silent build:kernel', { cwd: REPO, stdio: 'inherit' });
}
