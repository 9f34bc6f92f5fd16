import { z } from 'zod';

/**
 * build-stamp.json (data/<profile>/build-stamp.json): what the last successful `npm run build` of a profile
 * saw, so that the next one with nothing changed stops before Nx (nx/up-to-date.ts). Written by the build
 * command after Nx succeeded, removed before Nx starts; never read by a task.
 */
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected a SHA-256 (64 hex digits)' });
export const BuildStamp = z.strictObject({
  kind: z.literal('build-stamp/1'),
  profile: z.string(),
  /** The tasks of the profile's build, as Nx ran or restored them. */
  tasks: z.number().int().min(0),
  /** SHA-256 of the inputs: every code and config file's path and bytes, Node, the profile and the commit. */
  inputs: Sha256,
  /** SHA-256 of the outputs: every file's path, size and modification time under the profile's data and dist. */
  outputs: Sha256,
});
export type BuildStamp = z.infer<typeof BuildStamp>;
