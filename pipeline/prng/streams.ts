/**
 * The names of the project's random streams, all made here so that no two purposes ever
 * share one: a label names a stream of Rng.fromLabel, and every part that changes the draw
 * is in the label.
 */
interface Distribution {
  n: number;
  sparsity: number;
}

const label = (purpose: string, d: Distribution, parts: Record<string, string | number>) =>
  [purpose, `n=${d.n}`, `S=${d.sparsity}`, ...Object.entries(parts).map(([k, v]) => `${k}=${v}`)].join('/');

export const streams = {
  /** The training set of size T for one dataset seed. */
  trainingSet: (d: Distribution, T: number, seed: number) => label('train', d, { T, seed }),
  /** The test set shared by a profile's runs. */
  testSet: (d: Distribution, size: number, seed: number) => label('test', d, { size, seed }),
  /** The fresh batches of a T = infinity run. */
  online: (d: Distribution, batch: number, seed: number) => label('online', d, { batch, seed }),
  /** The batch on which a T = infinity run's inits are compared: apart from every batch it trained on. */
  selection: (online: string) => `${online}/selection`,
  /** The inits of runs with (n, m, seed), whatever their T: every T starts from the same weights. */
  inits: (n: number, m: number, seed: number) => `init/n=${n}/m=${m}/seed=${seed}`,
  init: (inits: string, init: number) => `${inits}/init=${init}`,
  /** Anything the benchmark draws. */
  bench: (what: string) => `bench/${what}`,
};
