import { appendFileSync } from 'node:fs';
import { UserError } from '../errors.ts';
import { parseStageArgs, STAGE_LOG, type StageArgs } from '../stages/context.ts';
import { runCommand, type Output } from './run.ts';

/**
 * The stage runner, as the Nx tasks call it (config/layout.ts `taskCode.runner`):
 *   tsx pipeline/commands/stage.ts <data|train|geometry|render> --profile P --id ID [--spec-hash H] [--code-hash C] [--config F]
 * Each stage's module is loaded only when it runs, so a task loads (and is keyed on) its own code.
 */
const STAGES: Record<string, (a: StageArgs, log: (s: string) => void) => void | Promise<void>> = {
  data: async (a, log) => (await import('../stages/data.ts')).runDataStage(a, log),
  train: async (a, log) => (await import('../stages/train.ts')).runTrainStage(a, log),
  geometry: async (a, log) => (await import('../stages/geometry.ts')).runGeometryStage(a, log),
  render: async (a, log) => (await import('../stages/render.ts')).runRenderStage(a, log),
};

export async function main(argv: string[], io: Output): Promise<number> {
  const [stage, ...rest] = argv;
  const run = Object.hasOwn(STAGES, stage) ? STAGES[stage] : undefined;
  if (!run) throw new UserError(`unknown stage "${stage}"; the stages are ${Object.keys(STAGES).join(', ')}`);
  const args = parseStageArgs(rest);
  await run(args, (s) => io.stderr(s + '\n'));
  // The task's wall time from its process's start (module loading included), for the build's closing lines
  // (commands/build.ts): one line appended, in one write, to the file npm run build names (context.ts STAGE_LOG).
  const log = process.env[STAGE_LOG];
  if (log) appendFileSync(log, JSON.stringify({ stage, id: args.id, seconds: performance.now() / 1000 }) + '\n');
  return 0;
}

runCommand(import.meta.url, main);
