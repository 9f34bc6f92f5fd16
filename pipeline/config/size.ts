/**
 * T, a training-set size: a positive integer, or infinity (a fresh batch of `onlineBatchSize` points
 * every step). experiment.json and figure.json spell infinity "infinity", and so does the code: as
 * INFINITE, tested by isInfinite. How it is written elsewhere is made here and nowhere else: `inf` in
 * ids (and so in paths: `T<sizeId>-m2-s0`), `∞` in labels, null in JSON rows.
 */
export const INFINITE = 'infinity';
export type DatasetSize = number | typeof INFINITE;

export const isInfinite = (T: DatasetSize): T is typeof INFINITE => T === INFINITE;

/** T in a run or data set id (a path): '30', 'inf'. */
export const sizeId = (T: DatasetSize): string => (isInfinite(T) ? 'inf' : String(T));

/** T as a figure prints it: '5', '2k' for whole thousands, '∞'. */
export const sizeLabel = (T: DatasetSize): string => (isInfinite(T) ? '∞' : T >= 1000 && T % 1000 === 0 ? `${T / 1000}k` : String(T));

/** T in a row of a JSON table (pipeline/render/tables.ts, the geometry summary): the number, or null for infinity. */
export const sizeJson = (T: DatasetSize): number | null => (isInfinite(T) ? null : T);

/** The points of one training step: the whole training set, or for T = infinity a fresh batch of `onlineBatchSize`. */
export const batchSize = (T: DatasetSize, training: { onlineBatchSize: number }): number => (isInfinite(T) ? training.onlineBatchSize : T);
