/**
 * A feature counts as learned when its fractional dimensionality is above this: summary.json's
 * `featuresLearned` counts them (geometry-of.ts), the large-data regime wants about five (regimes.ts),
 * and `npm run verify` checks the rest stay below it.
 */
export const LEARNED = 0.1;
