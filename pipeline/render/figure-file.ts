import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DatasetSize } from '../config/schema.ts';
import { ConfigError } from '../config/load.ts';

/** figures/<name>/figure.json: which runs and tables a figure reads. The drawing itself is spec.vl.json. */
export const FigureFile = z.strictObject({
  title: z.string(),
  description: z.string(),
  m: z.number().int().min(1),
  sizes: z.union([z.literal('all'), z.array(DatasetSize).min(1)]),
  tables: z.array(z.enum(['runs', 'features', 'examples'])).min(1),
});
export type FigureFile = z.infer<typeof FigureFile>;

export const figureDir = (name: string, root = '.') => join(root, 'figures', name);

export function loadFigure(name: string, root = '.'): FigureFile {
  const file = join(figureDir(name, root), 'figure.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: cannot be read as JSON (${(e as Error).message})`);
  }
  const r = FigureFile.safeParse(raw);
  if (!r.success) throw new ConfigError(r.error.issues.map((i) => `${file}: ${i.path.join('.') || '(top level)'}: ${i.message}`).join('\n'));
  return r.data;
}
