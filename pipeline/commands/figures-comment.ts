import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FormatError } from '../files/error.ts';
import { DIFF_JSON } from '../publish/diff.ts';
import { checkPrefix, CommentError, composeComment, composeNoteComment, readPrJson, readReport, stageImages } from '../publish/comment.ts';
import { runCommand, type Output } from './run.ts';

/**
 *   npm run figures:comment -- <report> [--stage DIR --prefix P] [--image-base URL] [--note TEXT] [--run-url URL] [--out FILE]
 *   npm run figures:comment -- --profile NAME --note TEXT [--run-url URL] [--out FILE]     (nothing was compared)
 *   npm run figures:comment -- <report> --pr                                               (checks pr.json)
 *
 * The pull request's figures comment from a report folder of figures:diff (publish/comment.ts).
 *  - --stage DIR --prefix P copies the images the comment shows into DIR/P/. Alone, it only stages, and
 *    lists the staged files on stdout.
 *  - Otherwise (or with --image-base) it writes the Markdown of the comment to FILE or stdout.
 *  - --pr checks <report>/pr.json and prints it as key=value lines for $GITHUB_OUTPUT.
 * Exit: 0; 2 on an error (`error: <file>: <what is wrong>`).
 */
const USAGE = `usage: npm run figures:comment -- <report> [--stage DIR --prefix P] [--image-base URL] [--note TEXT] [--run-url URL] [--out FILE]
       npm run figures:comment -- --profile NAME --note TEXT [--run-url URL] [--out FILE]
       npm run figures:comment -- <report> --pr`;

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        stage: { type: 'string' }, prefix: { type: 'string' }, 'image-base': { type: 'string' }, note: { type: 'string' },
        'run-url': { type: 'string' }, out: { type: 'string' }, profile: { type: 'string' }, pr: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new CommentError(`${(e as Error).message}\n${USAGE}`);
  }
}

function write(markdown: string, out: string | undefined, io: Output): void {
  if (out === undefined) return io.stdout(markdown);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, markdown);
}

export function main(argv: string[], io: Output): number {
  const { values: v, positionals } = parse(argv);
  if (positionals.length > 1) throw new CommentError(`expected one report folder, found ${positionals.length}\n${USAGE}`);
  const options = { note: v.note, runUrl: v['run-url'] };
  if (positionals.length === 0) {
    if (v.profile === undefined || v.note === undefined) throw new CommentError(`expected a report folder (or --profile and --note: a comment saying why nothing was compared)\n${USAGE}`);
    if (v.stage !== undefined || v['image-base'] !== undefined || v.pr) throw new CommentError('--stage, --image-base and --pr need a report folder');
    write(composeNoteComment(v.profile, v.note, v['run-url']), v.out, io);
    return 0;
  }
  if (v.pr) {
    const pr = readPrJson(positionals[0]);
    io.stdout(Object.entries(pr).map(([k, x]) => `${k}=${x}\n`).join(''));
    return 0;
  }
  const report = readReport(positionals[0]);
  if (v.profile !== undefined && v.profile !== report.diff.profile)
    throw new FormatError(join(report.dir, DIFF_JSON), `a report of profile ${report.diff.profile}, not ${v.profile}`);
  const staged = v.stage === undefined ? null : stageImages(report, v.stage, checkPrefix(v.prefix));
  if (staged && v['image-base'] === undefined) {
    io.stdout(staged.map((f) => `${f}\n`).join(''));
    return 0;
  }
  write(composeComment(report, { ...options, imageBase: v['image-base'], prefix: v.prefix }), v.out, io);
  return 0;
}

runCommand(import.meta.url, main);
