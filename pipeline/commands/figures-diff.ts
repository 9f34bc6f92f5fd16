import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { anyChange, DiffError, diffBuilds, markdownSummary, textSummary, writeReport } from '../publish/diff.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   npm run figures:diff -- <old-dist> <new-dist> [--out DIR] [--summary FILE] [--fail-on-change]
 *
 * Compares two builds of one profile (publish/diff.ts). Writes the HTML report and diff.json into DIR
 * (default figures-diff/), the Markdown summary to FILE (else appended to $GITHUB_STEP_SUMMARY when set),
 * and a short summary on stdout.
 * Exit: 0 (also when figures changed, unless --fail-on-change: then 1); 2 on an error.
 */
const USAGE = 'usage: npm run figures:diff -- <old-dist> <new-dist> [--out DIR] [--summary FILE] [--fail-on-change]';

export function main(argv: string[], io: Output, env: NodeJS.ProcessEnv = process.env): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { out: { type: 'string', default: 'figures-diff' }, summary: { type: 'string' }, 'fail-on-change': { type: 'boolean', default: false } },
    });
  } catch (e) {
    throw new DiffError(`${(e as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 2) throw new DiffError(`expected two built profile folders, found ${positionals.length}\n${USAGE}`);
  const d = diffBuilds(positionals[0], positionals[1]);
  const index = writeReport(d, values.out);
  const md = markdownSummary(d);
  if (values.summary !== undefined) {
    mkdirSync(dirname(values.summary), { recursive: true });
    writeFileSync(values.summary, md);
  }
  else if (env.GITHUB_STEP_SUMMARY) appendFileSync(env.GITHUB_STEP_SUMMARY, md);
  io.stdout(textSummary(d, index));
  return anyChange(d) && values['fail-on-change'] ? 1 : 0;
}

runCommand(import.meta.url, main);
