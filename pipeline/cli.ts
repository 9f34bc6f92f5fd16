import { parseStageArgs, type StageArgs } from './stages/context.ts';

/**
 * One entry point per stage, as the Nx tasks call it:
 *   tsx pipeline/cli.ts <data|train|geometry|render> --profile P --id ID [--spec-hash H] [--config F]
 * Each stage's module is loaded only when it runs, so a task loads (and is keyed on) its own code.
 */
const STAGES: Record<string, (a: StageArgs, log: (s: string) => void) => void | Promise<void>> = {
  data: async (a, log) => (await import('./stages/data.ts')).runDataStage(a, log),
  train: async (a, log) => (await import('./stages/train.ts')).runTrainStage(a, log),
  geometry: async (a, log) => (await import('./stages/geometry.ts')).runGeometryStage(a, log),
  render: async (a, log) => (await import('./stages/render.ts')).runRenderStage(a, log),
};

async function main() {
  const [stage, ...rest] = process.argv.slice(2);
  const run = STAGES[stage];
  if (!run) throw new Error(`unknown stage "${stage}"; the stages are ${Object.keys(STAGES).join(', ')}`);
  await run(parseStageArgs(rest), (s) => process.stderr.write(s + '\n'));
}

main().catch((e: Error) => {
  process.stderr.write(`error: ${e.name === 'Error' ? '' : e.name + ': '}${e.message}\n`);
  process.exit(1);
});
