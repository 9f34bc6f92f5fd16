import { readKind, writeContainer } from './container.ts';
import { FormatError } from '../files/error.ts';
import type { Params } from '../model/toy-model.ts';
import { stackParams, unstackParams } from './snapshots.ts';
import { INITS_KIND, INITS_LAYOUT, InitsHeader, type InitsMeta } from '../contracts/inits.ts';

/** Every init's final weights (all of one shape), the chosen one's index with them. `label`: the run and profile. */
export function writeInits(file: string, list: Params[], chosen: number, label: Record<string, unknown>): void {
  const { n, m } = list[0];
  const meta: InitsMeta = { ...label, n, m, inits: list.length, chosen, layout: INITS_LAYOUT };
  writeContainer(file, { kind: INITS_KIND, meta, arrays: stackParams(list, n, m) });
}

export function readInits(file: string): { inits: Params[]; chosen: number } {
  const { meta, arrays } = readKind(file, INITS_KIND, InitsHeader);
  const { W, b } = arrays as { W: Float64Array; b: Float64Array }; // float64, as the header said
  if (meta.chosen >= meta.inits) throw new FormatError(file, `corrupt: chosen init ${meta.chosen} of ${meta.inits}`);
  return { inits: unstackParams(meta.inits, W, b, meta.n, meta.m, file), chosen: meta.chosen };
}
