import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILE, loadExperiment, selectProfile } from '../config/load.ts';
import { profileDistDir } from '../config/layout.ts';
import { writeGallery } from '../publish/gallery.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   tsx pipeline/commands/gallery.ts [--profile P] [--config experiment.json]
 * The last task of a profile's build (its Nx target `build`): the gallery dist/<profile>/index.html and
 * manifest.json of the figures already built there (publish/gallery.ts).
 */
export function main(argv: string[], io: Output): number {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { profile: { type: 'string' }, config: { type: 'string', default: DEFAULT_CONFIG_FILE } }, strict: true }));
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}\nusage: tsx pipeline/commands/gallery.ts [--profile P] [--config experiment.json]`);
  }
  const { name, profile } = selectProfile(loadExperiment(values.config), values.profile);
  const out = writeGallery(profileDistDir(name), { profile: name, figures: profile.figures });
  io.stderr(`[${name}] gallery of ${profile.figures.length} figures -> ${out.index}, ${out.manifest}\n`);
  return 0;
}

runCommand(import.meta.url, main);
