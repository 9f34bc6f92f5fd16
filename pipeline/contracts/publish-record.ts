import { isAbsolute, posix } from 'node:path';
import { z } from 'zod';

/**
 * _data/<data>.publish.json in a Jekyll site: what `npm run publish` (publish/site.ts) wrote there, each
 * file (site-relative) with the SHA-256 of its bytes. Written and read by `npm run publish` only: it changes
 * or removes a file only while the file's bytes are as recorded.
 */

/** A path inside the site: relative, normalised, without "..". */
export const isSafeRelative = (p: string) => p !== '' && !isAbsolute(p) && posix.normalize(p) === p && !p.split('/').includes('..');

const SiteFiles = z.record(
  z.string().refine(isSafeRelative, { error: 'expected a path inside the site (relative, without "..")' }),
  z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected a SHA-256 (64 hex digits)' }),
  { error: 'expected an object: site-relative path -> SHA-256' },
);

export const PublishRecord = z.looseObject({
  /** What the file is, for someone who opens it. */
  about: z.string(),
  files: SiteFiles,
  /** Only while a publish is under way: the bytes a file still had before it was replaced. */
  replacing: SiteFiles.optional(),
});
export type PublishRecord = z.infer<typeof PublishRecord>;
