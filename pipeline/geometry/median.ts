/**
 * The median of a list, as one of its values: its middle value when the list has an odd length. An even
 * length has two middle values, and the callers differ in which they take; each keeps the one it always
 * took, so no number they report changes:
 *  - lowerMedian, the lower of the two: regimes.ts (a run is memorised when its median example's
 *    dimensionality is m/T within 25%; with half the examples at 0 and half at 2m/T, the median is 0, never
 *    the m/T that an average of the two would make it);
 *  - upperMedian, the higher of the two: the benchmark's rounds (bench.ts);
 *  - median, their average: verify's claims over draws (verify.ts), as Vega-Lite's median aggregate
 *    takes it, so that a claim and the line a figure draws agree.
 * None changes its input.
 */

/** The value at index `rank` of the list sorted in increasing order. */
const sortedAt = (xs: readonly number[], rank: number) => [...xs].sort((a, b) => a - b)[rank];

/** The median; of an even-length list, the lower of its two middle values. */
export const lowerMedian = (xs: readonly number[]) => sortedAt(xs, Math.floor((xs.length - 1) / 2));

/** The median; of an even-length list, the higher of its two middle values. */
export const upperMedian = (xs: readonly number[]) => sortedAt(xs, Math.floor(xs.length / 2));

/** The median; of an even-length list, the average of its two middle values (Vega-Lite's). */
export const median = (xs: readonly number[]) => (lowerMedian(xs) + upperMedian(xs)) / 2;
