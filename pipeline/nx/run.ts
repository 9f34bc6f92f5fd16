import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Names the profiles whose projects the graph holds (nx/graph.ts buildGraph); unset, every profile's. */
export const PROFILES_ENV = 'SMDD_NX_PROFILES';

/**
 * Runs the workspace's Nx with these arguments and returns its exit status. Plugins load
 * in-process (the graph is computed in about half the time, which dominates a no-change
 * rebuild) and no daemon is left behind. The graph holds the projects of `profiles` alone
 * (none: the kernel only), so Nx does not plan every profile on every command.
 */
export function runNx(args: string[], profiles: string[], stdio: 'inherit' | 'pipe' = 'inherit', extraEnv: Record<string, string> = {}): number {
  const env = { NX_ISOLATE_PLUGINS: 'false', NX_DAEMON: 'false', ...process.env, [PROFILES_ENV]: profiles.join(','), ...extraEnv };
  const nx = spawnSync('node_modules/.bin/nx', withParallel(args), { stdio: stdio === 'pipe' ? ['ignore', 'ignore', 'inherit'] : 'inherit', env });
  return nx.status ?? 1;
}

/**
 * Nx keeps as many tasks going as the machine has cores (nx.json's `parallel` is only the default of a bare
 * `nx` command), unless the arguments say otherwise (--parallel=N, --parallel N, --parallel false). A run whose
 * steps spread over threads runs alone (nx/graph.ts), so the cores are never asked for twice.
 */
export function withParallel(args: string[], cores = availableParallelism()): string[] {
  return args.some((a) => a === '--parallel' || a.startsWith('--parallel=')) ? args : [...args, `--parallel=${cores}`];
}
