/**
 * One contract per file the pipeline writes: a zod schema and the type inferred from it, each in a file of
 * its own (import from that file in pipeline code, so that a task loads, and is keyed on, only the
 * contracts it uses; this index is for tests and tools). Writers build values of these types; readers
 * parse with the schemas (read.ts), so a file that is not what its contract says stops with its name and
 * the field's path.
 */
export * from './read.ts';
export * from './container.ts';
export * from './points.ts';
export * from './weights.ts';
export * from './snapshots.ts';
export * from './inits.ts';
export * from './checkpoint.ts';
export * from './metrics.ts';
export * from './timing.ts';
export * from './rates.ts';
export * from './build-stamp.ts';
export * from './summary.ts';
export * from './features.ts';
export * from './examples.ts';
export * from './moments.ts';
export * from './tables.ts';
export * from './provenance.ts';
export * from './manifest.ts';
export * from './publish-record.ts';
export * from './stages.ts';
