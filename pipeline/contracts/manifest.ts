import { z } from 'zod';
import { FIGURE_FILE_KINDS, type FigureFileKind } from '../config/layout.ts';

/**
 * dist/<profile>/manifest.json: every file of a built profile with its SHA-256, each figure's provenance
 * hashes and engines, and the commit it was built at. Written by the gallery (the profile's build task,
 * never cached); read by `npm run figures:diff` (the profile) and the figure tests.
 */
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected a SHA-256 (64 hex digits)' });
const ManifestFile = z.strictObject({ file: z.string(), sha256: Sha256 });
type ManifestFile = z.infer<typeof ManifestFile>;

const ManifestFigure = z.strictObject({
  name: z.string(),
  title: z.string(),
  specHash: z.string().nullable(),
  renderCode: z.string().nullable(),
  engines: z.array(z.string()),
  /** The figure's files by kind: svg, png, provenance. */
  files: z.strictObject(Object.fromEntries(FIGURE_FILE_KINDS.map((k) => [k, ManifestFile])) as Record<FigureFileKind, typeof ManifestFile>),
  /** The slider's frames, for a figure that has them. */
  frames: z.array(ManifestFile).optional(),
});
type ManifestFigure = z.infer<typeof ManifestFigure>;

export const Manifest = z.looseObject({
  profile: z.string().min(1),
  /** `git rev-parse HEAD` where it was built; null where git does not answer. */
  commit: z.string().nullable(),
  /** Sorted by name. */
  figures: z.array(ManifestFigure),
});
export type Manifest = z.infer<typeof Manifest>;

/** As `npm run figures:diff` reads a build (its own or another commit's): the profile. */
export const ManifestProfile = z.looseObject({ profile: Manifest.shape.profile });
