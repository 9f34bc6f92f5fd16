import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load.ts';
import { probeCache, probeServer } from '../scale/probe.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   npm run cache:probe -- [--server URL]
 * Checks that the Nx remote cache the shards meet in answers Nx's API with this token, for reading and
 * for writing (scale/probe.ts). The server defaults to NX_SELF_HOSTED_REMOTE_CACHE_SERVER, the token is
 * NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: what Nx itself will use. Prints one line and exits 0, or
 * `error: ...` naming the server and what failed, and exits 2.
 */
export async function main(argv: string[], io: Output): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { server: { type: 'string' } } }));
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}; usage: npm run cache:probe -- [--server URL]`);
  }
  const token = process.env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN || undefined;
  io.stdout(`${await probeCache({ server: probeServer(values.server), token })}\n`);
  return 0;
}

runCommand(import.meta.url, main);
