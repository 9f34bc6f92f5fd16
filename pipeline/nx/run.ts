import { spawnSync } from 'node:child_process';

/**
 * Runs the workspace's Nx with these arguments and returns its exit status. Plugins load
 * in-process (the graph is computed in about half the time, which dominates a no-change
 * rebuild) and no daemon is left behind.
 */
export function runNx(args: string[], stdio: 'inherit' | 'pipe' = 'inherit', extraEnv: Record<string, string> = {}): number {
  const env = { NX_ISOLATE_PLUGINS: 'false', NX_DAEMON: 'false', ...process.env, ...extraEnv };
  const nx = spawnSync('node_modules/.bin/nx', args, { stdio: stdio === 'pipe' ? ['ignore', 'ignore', 'inherit'] : 'inherit', env });
  return nx.status ?? 1;
}
