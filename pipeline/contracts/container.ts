import { z } from 'zod';

/**
 * The JSON header of the one binary container (format/container.ts), as every kind has it:
 * {kind, meta, arrays: [{name, dtype, length}]}; what a kind puts in `meta` and which arrays it holds is
 * that kind's contract (points.ts, weights.ts, snapshots.ts, checkpoint.ts), made with `kindHeader`.
 */
const DTYPES = ['f32', 'f64', 'u32', 'i32'] as const;
export const DType = z.enum(DTYPES);
export type DType = z.infer<typeof DType>;

export const ArrayEntry = z.strictObject({
  name: z.string(),
  dtype: DType,
  length: z.number().int().min(0),
});
export type ArrayEntry = z.infer<typeof ArrayEntry>;

/** Any container's header. (A header without `meta` reads as an empty one.) */
export const ContainerHeader = z.strictObject({
  kind: z.string(),
  meta: z.record(z.string(), z.unknown(), { error: 'expected an object' }).optional(),
  arrays: z.array(ArrayEntry),
});
export type ContainerHeader = z.infer<typeof ContainerHeader>;

/** The arrays of a kind, in the order written: each name with its dtype, and whether every file has it. */
type ArraysOf = readonly { name: string; dtype: DType; optional?: boolean }[];

/**
 * The header of one kind: that kind, its meta, and exactly its arrays (names and dtypes, in order; an
 * optional array may be left out).
 */
export function kindHeader<K extends string, M extends z.ZodType>(kind: K, meta: M, arrays: ArraysOf) {
  return z.strictObject({
    kind: z.literal(kind),
    meta,
    arrays: z.array(ArrayEntry).superRefine((got, ctx) => {
      const want = arrays.filter((a) => !a.optional || got.some((g) => g.name === a.name));
      const text = (list: readonly { name: string; dtype: string }[]) => list.map((a) => `${a.name} (${a.dtype})`).join(', ');
      if (got.length !== want.length || got.some((g, i) => g.name !== want[i].name || g.dtype !== want[i].dtype))
        ctx.addIssue({ code: 'custom', message: `expected the arrays ${text(want)}, found ${text(got)}` });
    }),
  });
}
