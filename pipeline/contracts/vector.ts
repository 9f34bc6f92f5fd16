import { z } from 'zod';

/**
 * What a row of features.json and of examples.json both hold of its vector (a feature vector W_i, or a
 * hidden vector h_t = W x_t): its first two coordinates (0 where m < 2), norm and fractional dimensionality.
 */
export const vectorFields = {
  x: z.number(),
  y: z.number(),
  norm: z.number().min(0),
  dimensionality: z.number(),
};
