/**
 * Learning rate at step s (0-based) of `steps`: linear warmup reaching `peak` at step
 * warmup - 1, then cosine decay to exactly 0 at the last step.
 */
export function learningRate(s: number, steps: number, warmup: number, peak: number): number {
  if (s < warmup) return (peak * (s + 1)) / warmup;
  if (s >= steps - 1) return 0;
  const s0 = Math.max(warmup - 1, 0);
  const progress = (s - s0) / (steps - 1 - s0);
  return peak * 0.5 * (1 + Math.cos(Math.PI * progress));
}
