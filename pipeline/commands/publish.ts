import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PublishError, publishSite } from '../publish/site.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   npm run publish -- <site-dir> [--profile P] [--images-dir DIR] [--dist dist] [--config experiment.json]
 * Publishes a built profile's figures into a Jekyll site (publish/site.ts: what it writes, and what stops it
 * before it writes anything).
 */
const USAGE = 'usage: npm run publish -- <site-dir> [--profile P] [--images-dir DIR] [--dist dist] [--config experiment.json]';

export function main(argv: string[], io: Output): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { profile: { type: 'string' }, 'images-dir': { type: 'string' }, dist: { type: 'string' }, config: { type: 'string' } },
    });
  } catch (e) {
    throw new PublishError(`${(e as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new PublishError(`expected one site folder, found ${positionals.length}\n${USAGE}`);
  // `npm run` starts in the package's folder; paths typed by the user are relative to where they typed them.
  const here = process.env.npm_lifecycle_event === 'publish' && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
  const fromHere = (p: string | undefined) => (p === undefined ? undefined : resolve(here, p));
  const site = fromHere(positionals[0])!;
  const r = publishSite({ site, profile: values.profile, imagesDir: values['images-dir'], dist: fromHere(values.dist), config: values.config },
    (s) => io.stderr(s + '\n'));
  io.stderr(`published ${r.figures.length} figures of profile "${r.profile}" into ${site} (includes ${r.namespace.include('<name>')}); ` +
    `${r.written.length} files written, ${r.unchanged.length} unchanged${r.removed.length ? `, ${r.removed.length} removed` : ''}\n`);
  return 0;
}

runCommand(import.meta.url, main);
