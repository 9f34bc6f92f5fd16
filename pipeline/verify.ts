import { isSeedSweep, MAIN_SWEEP, type ProfilePlan, type RunPlan } from './config/plan.ts';
import type { Profile } from './config/schema.ts';
import { findRegimes, learnedFeatures, memorised, tgonRatio, type RunDimensionalities } from './geometry/regimes.ts';
import { LEARNED } from './geometry/learned.ts';
import { readContract } from './contracts/read.ts';
import { Summary as SummaryFile } from './contracts/summary.ts';
import { Features } from './contracts/features.ts';
import { Examples } from './contracts/examples.ts';
import { median } from './geometry/median.ts';
import { Moments, type MomentSummary } from './contracts/moments.ts';

/**
 * The paper's claims, checked with numbers on a built profile's tables (data/<profile>/runs/*\/geometry),
 * for `npm run verify` (commands/verify.ts): each claim with what was measured, what was expected, and
 * whether it passes. Claims about runs the profile does not have (another m, a sweep) are not checked.
 */

/** What the claims read of a run's summary.json (contracts/summary.ts): the kept init's numbers, and every init's (absent: the kept one alone). */
type Summary = Pick<SummaryFile, 'T' | 'm' | 'datasetSeed' | 'testLoss' | 'normW'> & { inits?: Pick<SummaryFile['inits'][number], 'testLoss' | 'normW'>[] };

/** What verify reads of one run. */
export interface RunTables extends RunDimensionalities {
  datasetSeed: number;
  summary: Summary;
}

export interface Claim {
  claim: string;
  /** Measured on the medians over dataset seeds (each seed's kept init) at each T. */
  measured: string;
  expected: string;
  pass: boolean | null; // null: not checked
  /** What the draws (every init of every seed) at the T the claim turns on show, where one draw could say otherwise. */
  draws?: string;
  /** Whether the claim's inequality fails for some of those draws (while it may hold on the medians). */
  failsForSomeDraws?: boolean;
}

const fmt = (x: number, digits = 3) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toPrecision(4) : x.toPrecision(digits));
const Tname = (T: number | 'infinity') => (T === 'infinity' ? '∞' : String(T));
/** A list of draws' values as its range (one value as itself). */
const range = (xs: number[]) => (xs.length === 1 ? fmt(xs[0]) : `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`);

/** The claims of the paper that one m's runs (every T, every dataset seed) can show. */
export function checkClaims(runs: RunTables[]): Claim[] {
  const { sizes, lastMemorised, firstFeatures } = findRegimes(runs);
  const at = (T: number | 'infinity') => runs.filter((r) => r.T === T);
  // The statistic at each T: the median over dataset seeds of each seed's kept init; the draws: every init of every seed.
  const testLoss = (T: number | 'infinity') => median(at(T).map((r) => r.summary.testLoss));
  const normW = (T: number | 'infinity') => median(at(T).map((r) => r.summary.normW));
  const draws = (T: number | 'infinity') => at(T).flatMap((r) => r.summary.inits ?? [r.summary]);
  const finite = sizes.filter((T): T is number => T !== 'infinity');
  const largest: number | 'infinity' = sizes[sizes.length - 1];

  const claims: Claim[] = [];
  // T-gons on the medians over seeds (regimes.ts); the seeds whose own kept init is not within 25% are named.
  const offSeeds = finite.filter((T) => T <= lastMemorised).flatMap((T) => at(T).filter((r) => !memorised(r)).map((r) => `seed ${r.datasetSeed} at T = ${T} (${fmt(tgonRatio(r))} m/T)`));
  claims.push({
    claim: 'Small training sets are memorised as T-gons: the median example dimensionality is m/T (within 25%) from the smallest T on',
    measured: lastMemorised ? `holds for T = ${finite[0]} … ${lastMemorised}` : `fails at T = ${finite[0]}`,
    expected: 'up to T ≥ 30 (the small-datasets figure)',
    pass: lastMemorised >= 30,
    draws: `each seed's kept init up to T = ${lastMemorised || finite[0]}: ${offSeeds.length ? `not within 25%: ${offSeeds.join(', ')}` : 'every one within 25%'}`,
    failsForSomeDraws: offSeeds.length > 0,
  });
  const large = at(largest);
  const pentagon = large.map(learnedFeatures);
  const rest = large.map((r) => Math.max(0, ...r.featureDimensionality.filter((d) => d <= LEARNED)));
  const inBand = pentagon.every((ds) => ds.length >= 4 && ds.length <= 6 && ds.every((d) => d >= 0.15 && d <= 0.45));
  claims.push({
    claim: `Large data (T = ${Tname(largest)}): about five features with dimensionality 0.15–0.45, the rest near 0`,
    measured: pentagon.map((ds, i) => `${ds.length} features, ${fmt(Math.min(...ds))}–${fmt(Math.max(...ds))}, rest ≤ ${fmt(rest[i])}`).join('; '),
    expected: `4–6 features in 0.15–0.45, rest ≤ ${LEARNED}`,
    pass: inBand,
  });
  const peakT = finite.reduce((a, b) => (testLoss(b) > testLoss(a) ? b : a));
  const firstFeaturesNum = firstFeatures === undefined ? Infinity : firstFeatures === 'infinity' ? Infinity : firstFeatures;
  const ends = Math.max(testLoss(finite[0]), testLoss(largest)) + 1e-3;
  const peakDraws = draws(peakT).map((d) => d.testLoss);
  const above = peakDraws.filter((l) => l > ends).length;
  claims.push({
    claim: 'Test loss rises to a peak before the features are learned, above both the small- and the large-data loss (double descent)',
    measured: `peak ${fmt(testLoss(peakT))} at T = ${peakT}; features learned from T = ${firstFeatures === undefined ? 'never' : Tname(firstFeatures)}; ${fmt(testLoss(largest), 4)} at T = ${Tname(largest)}`,
    expected: 'peak between the smallest T and the first feature-learning T, 0.001 above the losses at both ends',
    pass: firstFeatures !== undefined && peakT > finite[0] && peakT < firstFeaturesNum
      && testLoss(peakT) > testLoss(finite[0]) + 1e-3 && testLoss(peakT) > testLoss(largest) + 1e-3,
    draws: `T = ${peakT}: ${above} of ${peakDraws.length} draws 0.001 above both ends (test loss ${range(peakDraws)})`,
    failsForSomeDraws: above < peakDraws.length,
  });
  const memorisedSizes = finite.filter((T) => T <= lastMemorised);
  const maxNorm = Math.max(...finite.map(normW));
  const maxNormT = finite.find((T) => normW(T) === maxNorm)!;
  const rise = memorisedSizes.length ? Math.max(...memorisedSizes.map(normW)) / normW(finite[0]) : 0;
  claims.push({
    claim: '‖W‖ grows while the model memorises and collapses once features are learned',
    measured: `×${fmt(rise)} from T = ${finite[0]} to its memorising maximum; ‖W‖(${Tname(largest)}) / max = ${fmt(normW(largest) / maxNorm)}`,
    expected: 'grows ≥ ×5; falls to ≤ 0.2 of its maximum',
    pass: rise >= 5 && normW(largest) / maxNorm <= 0.2,
    draws: `‖W‖ at T = ${maxNormT}, its largest median: ${range(draws(maxNormT).map((d) => d.normW))} over ${draws(maxNormT).length} draws`,
    failsForSomeDraws: draws(maxNormT).some((d) => normW(largest) / d.normW > 0.2),
  });
  claims.push({
    claim: `‖W‖ of the learned pentagon (T = ${Tname(largest)}) is about the paper's 2.2`,
    measured: fmt(normW(largest)),
    expected: '2.0–3.0 (paper 2.2; independent check 2.45–2.55)',
    pass: normW(largest) >= 2 && normW(largest) <= 3,
  });
  claims.push({
    claim: 'With features learned, test loss is below the all-zero prediction (1)',
    measured: fmt(testLoss(largest), 5),
    expected: '< 1',
    pass: testLoss(largest) < 1,
  });
  return claims;
}

/** A run's test loss at its T, as the sweep claims read it. */
export interface SweepRun {
  T: number | 'infinity';
  m: number;
  sparsity: number;
  weightDecay: number;
  steps: number;
  testLoss: number;
  maxFeatureDimensionality: number;
  /** Every init's test loss (absent: the kept init's alone). */
  draws?: number[];
}

/**
 * The bump of a test-loss curve over finite T: how far its peak rises above the higher of its two ends
 * (the smallest and the largest T), 0 when it does not. Median over dataset seeds at each T; `draws`:
 * the same height for every draw (every init of every seed) at the peak's T, against the same ends.
 */
export function bump(runs: SweepRun[]): { bump: number; peakT: number; draws: number[] } {
  const finite = [...new Set(runs.map((r) => r.T).filter((T): T is number => T !== 'infinity'))].sort((a, b) => a - b);
  const L = (T: number) => median(runs.filter((r) => r.T === T).map((r) => r.testLoss));
  const peakT = finite.reduce((a, b) => (L(b) > L(a) ? b : a));
  const ends = Math.max(L(finite[0]), L(finite[finite.length - 1]));
  const draws = runs.filter((r) => r.T === peakT).flatMap((r) => r.draws ?? [r.testLoss]).map((l) => Math.max(0, l - ends));
  return { bump: Math.max(0, L(peakT) - ends), peakT, draws };
}

/** The range of the draws' bumps at each value's peak, as a claim's `draws` says it. */
const drawsText = (b: { v: number; peakT: number; draws: number[] }[], name: (v: number) => string) =>
  b.map((x) => `${name(x.v)}: ${range(x.draws)} at T = ${x.peakT} (${x.draws.length} draw${x.draws.length === 1 ? '' : 's'})`).join('; ');

const byValue = (runs: SweepRun[], field: 'weightDecay' | 'steps') =>
  [...new Set(runs.map((r) => r[field]))].sort((a, b) => a - b).map((v) => ({ v, ...bump(runs.filter((r) => r[field] === v)) }));

/** Noise allowed between neighbouring values before a trend counts as broken: 10% and 1e-3. */
const noLarger = (b: number, a: number) => b <= a * 1.1 + 1e-3;

/** m = 4 in the paper: the bump shrinks as weight decay grows, and is gone (≤ 0.01) at the largest (1.0). */
export function weightDecayClaim(runs: SweepRun[], m: number): Claim {
  const b = byValue(runs, 'weightDecay');
  const last = b[b.length - 1];
  return {
    claim: `m = ${m}: larger weight decay shrinks the bump (1.0 removes it)`,
    measured: b.map((x) => `wd ${x.v}: ${fmt(x.bump)}${x.bump > 0 ? ` at T = ${x.peakT}` : ''}`).join('; '),
    expected: `bump (peak − higher end) non-increasing in weight decay (10% + 1e-3 noise allowed); ≤ 0.01 at ${last.v}`,
    pass: b.length >= 2 && b.every((x, i) => i === 0 || noLarger(x.bump, b[i - 1].bump)) && last.bump <= 0.01 && b[0].bump > last.bump,
    draws: `bump of each draw at its value's peak: ${drawsText(b, (v) => `wd ${v}`)}`,
    failsForSomeDraws: last.draws.some((d) => d > 0.01),
  };
}

/** m = 4 in the paper: more steps, a larger bump. */
export function stepsClaim(runs: SweepRun[], m: number): Claim {
  const b = byValue(runs, 'steps');
  return {
    claim: `m = ${m}: more training steps enlarge the bump`,
    measured: b.map((x) => `${x.v.toLocaleString('en-US')} steps: ${fmt(x.bump)}${x.bump > 0 ? ` at T = ${x.peakT}` : ''}`).join('; '),
    expected: 'bump non-decreasing in steps (10% + 1e-3 noise allowed), and larger at the most steps than at the fewest',
    pass: b.length >= 2 && b.every((x, i) => i === 0 || noLarger(b[i - 1].bump, x.bump)) && b[b.length - 1].bump > b[0].bump,
    draws: `bump of each draw at its value's peak: ${drawsText(b, (v) => `${v.toLocaleString('en-US')} steps`)}`,
    // the fewest steps' largest draw above the most steps' smallest: some pairs of draws go the other way
    failsForSomeDraws: Math.max(...b[0].draws) > Math.min(...b[b.length - 1].draws),
  };
}

/** Max feature dimensionality from which a sparsity's features count as learned, in the sparsity claim. */
const FEATURES_FROM = 0.2;

/**
 * The rule of thumb: features are learned once each is seen about 10 times, T(1 − S) ≈ 10, whatever S.
 * For each sparsity, T* is where the max feature dimensionality crosses 0.2 for good (interpolated on
 * log T between the last grid size below 0.2 and the next; a coarse T grid alone cannot place it). The
 * curves collapse onto one against T(1 − S) when every T*(1 − S) is the rule's 10 within a factor 3.
 */
export function sparsityClaim(runs: SweepRun[]): Claim {
  const sparsities = [...new Set(runs.map((r) => r.sparsity))].sort((a, b) => a - b);
  const starts = sparsities.map((S) => {
    const finite = runs.filter((r) => r.sparsity === S && r.T !== 'infinity').sort((a, b) => (a.T as number) - (b.T as number));
    let first = finite.length; // the first grid size from which the dimensionality stays >= 0.2
    while (first > 0 && finite[first - 1].maxFeatureDimensionality >= FEATURES_FROM) first--;
    if (first === finite.length) return { S, T: null, seen: null };
    let T = finite[first].T as number;
    if (first > 0) {
      const [lo, hi] = [finite[first - 1], finite[first]];
      const f = (FEATURES_FROM - lo.maxFeatureDimensionality) / (hi.maxFeatureDimensionality - lo.maxFeatureDimensionality);
      T = Math.exp(Math.log(lo.T as number) + f * (Math.log(hi.T as number) - Math.log(lo.T as number)));
    }
    return { S, T, seen: T * (1 - S) };
  });
  const found = starts.filter((s): s is { S: number; T: number; seen: number } => s.T !== null);
  const spread = (xs: number[]) => Math.max(...xs) / Math.min(...xs);
  const within = found.every((s) => s.seen >= 10 / 3 && s.seen <= 30);
  return {
    claim: 'Max feature dimensionality against T·(1 − S) collapses across sparsities: features from T(1 − S) ≈ 10',
    measured: `${starts.map((s) => `S ${s.S}: ${s.T === null ? 'never' : `T* ${fmt(s.T)}, T*(1−S) ${fmt(s.seen!)}`}`).join('; ')}` +
      (found.length ? `; spread of T*(1−S) ×${fmt(spread(found.map((s) => s.seen)))}, of T* ×${fmt(spread(found.map((s) => s.T)))}` : ''),
    expected: `≥ 3 sparsities; each T*(1−S) in 3.3–30 (the rule's 10 within ×3); T*: max feature dim crosses ${FEATURES_FROM} for good`,
    pass: sparsities.length >= 3 && found.length === starts.length && within,
  };
}

/** The sweep claims a profile's sweeps can show: by what each sweep varies. Without such a sweep, not checked. */
export function sweepClaims(plan: ProfilePlan, profile: Profile, read: (r: RunPlan) => SweepRun): Claim[] {
  const claims: Claim[] = [];
  const sweeps = Object.entries(profile.sweeps);
  for (const [field, make, what] of [['weightDecay', weightDecayClaim, 'weight-decay'], ['steps', stepsClaim, 'training-steps']] as const) {
    const found = sweeps.filter(([, g]) => g.vary?.field === field);
    const seeds = seedSweeps(profile).flatMap((name) => plan.sweeps[name]);
    for (const [name] of found)
      for (const m of [...new Set(plan.sweeps[name].map((r) => r.m))]) {
        // the sweep's runs, and the seed sweeps' runs of its m that fall on one of its curves (same T grid value and setting)
        const own = plan.sweeps[name].filter((r) => r.m === m);
        const values = new Set(own.map((r) => r.spec.training[field]));
        const sizes = new Set(own.map((r) => r.T));
        const extra = seeds.filter((r) => r.m === m && values.has(r.spec.training[field]) && sizes.has(r.T) && !own.some((o) => o.id === r.id));
        claims.push(make([...own, ...extra].map(read), m));
      }
    if (!found.length) claims.push({ claim: `larger ${field === 'steps' ? 'numbers of steps' : 'weight decay'}: the bump's trend`, measured: `needs a ${what} sweep (vary.field ${field})`, expected: '', pass: null });
  }
  const sparse = sweeps.filter(([, g]) => g.sparsities);
  if (sparse.length) {
    // The sparsity sweeps' runs and the main grid's (the profile's own sparsity), one m at a time.
    const runs = new Map([...plan.sweeps[MAIN_SWEEP], ...sparse.flatMap(([name]) => plan.sweeps[name])].map((r) => [r.id, r]));
    for (const m of [...new Set(sparse.flatMap(([name]) => plan.sweeps[name].map((r) => r.m)))])
      claims.push(sparsityClaim([...runs.values()].filter((r) => r.m === m).map(read)));
  } else claims.push({ claim: 'Max feature dimensionality against T·(1 − S) collapses across sparsities', measured: 'needs a sweep with sparsities', expected: '', pass: null });
  return claims;
}

/** What the sweep claims read of a built run: its spec and its geometry summary. */
export function readSweepRun(r: RunPlan): SweepRun {
  const s = readContract(r.files.geometry.summary, SummaryFile);
  return {
    T: r.T, m: r.m, sparsity: r.spec.sparsity, weightDecay: r.spec.training.weightDecay, steps: r.spec.training.steps,
    testLoss: s.testLoss, maxFeatureDimensionality: s.maxFeatureDimensionality, draws: s.inits.map((i) => i.testLoss),
  };
}

/** The tables verify reads for `runs`, from their geometry folders. */
export function readRunTables(runs: RunPlan[]): RunTables[] {
  return runs.map((r) => {
    const summary = readContract(r.files.geometry.summary, SummaryFile);
    const dims = (rows: { dimensionality: number }[]) => rows.map((row) => row.dimensionality);
    return {
      T: r.T, m: r.m, datasetSeed: r.datasetSeed, summary,
      featureDimensionality: dims(readContract(r.files.geometry.features, Features)), exampleDimensionality: dims(readContract(r.files.geometry.examples, Examples)),
    };
  });
}

export function formatClaims(claims: Claim[]): string {
  const rows = claims.map((c) => `| ${c.claim} | ${c.measured} | ${c.expected} | ${c.pass === null ? 'not checked' : c.pass ? 'pass' : 'FAIL'} | ${c.draws ? `${c.draws}${c.pass && c.failsForSomeDraws ? ' — **not every draw**' : ''}` : '—'} |`);
  return ['| claim | measured (medians over seeds) | expected | pass | draws (every init of every seed) |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The claims that hold on the medians but not for some draws: named after the table. */
export const someDrawsDisagree = (claims: Claim[]) => claims.filter((c) => c.pass === true && c.failsForSomeDraws);

/** The sweeps that only add dataset seeds to another grid (config/plan.ts isSeedSweep): their runs join the claims of the grid whose runs they repeat. */
export const seedSweeps = (profile: Profile): string[] => Object.entries(profile.sweeps).filter(([, g]) => isSeedSweep(g)).map(([name]) => name);

/** A run's training seen through its weight snapshots: the moment its features went furthest, and the end. */
export interface Movie {
  run: string;
  T: number | 'infinity';
  steps: number;
  /** The moment of the pentagon (4-6 features above LEARNED) with a test loss below 1 and the largest max feature dimensionality (null: none). */
  peak: { progress: number; maxFeatureDimensionality: number; featuresLearned: number; testLoss: number } | null;
  final: { maxFeatureDimensionality: number; featuresLearned: number; testLoss: number };
  /** Features learned mid-training: a moment with the pentagon and a test loss below 1. */
  learns: boolean;
  /** Then forgotten: at the end the pentagon is gone (not 4-6 features above LEARNED) and the test loss is above 1. */
  forgets: boolean;
}

type MovieMoment = Pick<MomentSummary, 'progress' | 'maxFeatureDimensionality' | 'featuresLearned' | 'testLoss'>;
const pentagon = (x: MovieMoment) => x.featuresLearned >= 4 && x.featuresLearned <= 6;

export function movieOf(run: string, T: number | 'infinity', steps: number, moments: MovieMoment[]): Movie {
  const learnt = moments.filter((x) => x.testLoss < 1 && pentagon(x));
  const peak = learnt.length ? learnt.reduce((a, b) => (b.maxFeatureDimensionality > a.maxFeatureDimensionality ? b : a)) : null;
  const last = moments[moments.length - 1];
  const learns = peak !== null;
  const forgets = learns && !pentagon(last) && last.testLoss > 1;
  const at = (x: MovieMoment) => ({ maxFeatureDimensionality: x.maxFeatureDimensionality, featuresLearned: x.featuresLearned, testLoss: x.testLoss });
  return { run, T, steps, learns, forgets, peak: peak && { progress: peak.progress, ...at(peak) }, final: at(last) };
}

const movieText = (x: Movie) =>
  `T = ${Tname(x.T)}, ${x.steps.toLocaleString('en-US')} steps: ` +
  (x.peak ? `${x.peak.featuresLearned} features (max ${fmt(x.peak.maxFeatureDimensionality)}) at ${Math.round(100 * x.peak.progress)}%, test loss ${fmt(x.peak.testLoss, 4)}` : 'never the pentagon below the all-zero loss') +
  ` → ${x.final.featuresLearned} (max ${fmt(x.final.maxFeatureDimensionality)}) at the end, test loss ${fmt(x.final.testLoss, 4)}`;

/**
 * The paper's training movie: a model that first learns the features (the pentagon, 4-6 features above
 * LEARNED, with a test loss below 1) and then forgets them as it memorises (at the end the pentagon is gone and
 * the test loss is above 1).
 * `shown`: the runs the training-dynamics figure draws; `searched`: the movie-search sweep's, each said in `draws`.
 */
export function movieClaim(shown: Movie[], searched: Movie[]): Claim {
  const found = searched.filter((x) => x.forgets);
  return {
    claim: 'The training movie (training-dynamics) learns the features, then forgets them as it memorises',
    measured: shown.map(movieText).join('; ') || 'no run',
    expected: `a moment with 4–6 features above ${LEARNED} and test loss < 1; at the end not 4–6 and test loss > 1`,
    pass: shown.length > 0 && shown.every((x) => x.forgets),
    draws: searched.length ? `searched ${searched.length} runs (movie-search); learn then forget: ${found.map((x) => `T = ${Tname(x.T)} at ${x.steps.toLocaleString('en-US')} steps`).join(', ') || 'none'}` : undefined,
  };
}

/** A built run's movie, from its moments.json. */
export function readMovie(r: RunPlan): Movie {
  const m = readContract(r.files.geometry.moments, Moments);
  return movieOf(r.id, r.T, r.spec.training.steps, m.summary);
}

