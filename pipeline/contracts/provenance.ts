import { z } from 'zod';

/**
 * dist/<profile>/<figure>.provenance.json (the same JSON is in the SVG's <metadata>): what a figure came
 * from. Written by the render stage; read by the gallery (its provenance section and the manifest), by
 * `npm run publish` (copied into the site's data file) and by `npm run figures:diff` (the profile).
 * Readers take it as an object that may hold more (a build of another commit may add fields).
 */

/** A run the figure draws: its id, its folder, and the hash of its spec. */
const ProvenanceRun = z.strictObject({ run: z.string(), dir: z.string(), spec: z.string() });
type ProvenanceRun = z.infer<typeof ProvenanceRun>;

/** A frame of the figure's slider (figure.json `frames`): its file (relative to dist/<profile>/), the value of `by` it draws, its caption. */
export const ProvenanceFrame = z.strictObject({ file: z.string(), value: z.unknown(), label: z.unknown() });
export type ProvenanceFrame = z.infer<typeof ProvenanceFrame>;

export const Provenance = z.looseObject({
  figure: z.string(),
  title: z.string(),
  profile: z.string().min(1),
  /** The experiment file, the figure's spec, its figure.json and the theme, as paths. */
  config: z.string(),
  spec: z.string(),
  figureFile: z.string(),
  theme: z.string(),
  /** The hash of the figure's config entries (its figure file and its runs' specs). */
  specHash: z.string(),
  /** The hash of the render code, as the task graph computed it (null when the stage ran outside it). */
  renderCode: z.string().nullable(),
  /** "<name> <version>" of each engine that trained its runs, sorted. */
  engines: z.array(z.string()),
  runs: z.array(ProvenanceRun),
  frames: z.array(ProvenanceFrame).optional(),
});
export type Provenance = z.infer<typeof Provenance>;

/** As the gallery and `npm run publish` read it: a provenance file written before figures recorded their config hash, render code and engines lacks them. */
export const ProvenanceAsRead = Provenance.partial({ specHash: true, renderCode: true, engines: true });
export type ProvenanceAsRead = z.infer<typeof ProvenanceAsRead>;

/** As `npm run figures:diff` reads a build (its own or another commit's): the profile it is a figure of. */
export const ProvenanceProfile = z.looseObject({ profile: Provenance.shape.profile });
