import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_FILE, loadExperiment, selectProfile } from './config/load.ts';
import { planProfile, type RunPlan } from './config/plan.ts';
import { FormatError } from './format/error.ts';
import { readJson } from './format/json.ts';
import { findRegimes, learnedFeatures, LEARNED, type RunDimensionalities } from './geometry/regimes.ts';

/**
 *   npm run verify [-- <profile>]
 * Checks the paper's claims, with numbers, on a built profile's tables (data/<profile>/runs/*\/geometry):
 * prints a table (claim, measured, expected, pass) and exits 1 when a claim fails, 2 when the tables
 * are missing. Claims about runs the profile does not have (another m, a sweep) are listed as not checked.
 */

interface Summary {
  T: number | null;
  m: number;
  datasetSeed: number;
  testLoss: number;
  normW: number;
}

/** What verify reads of one run. */
export interface RunTables extends RunDimensionalities {
  datasetSeed: number;
  summary: Summary;
}

export interface Claim {
  claim: string;
  measured: string;
  expected: string;
  pass: boolean | null; // null: not checked
}

const fmt = (x: number, digits = 3) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toPrecision(4) : x.toPrecision(digits));
const Tname = (T: number | 'infinity') => (T === 'infinity' ? '∞' : String(T));

/** The claims of the paper that one m's runs (every T, every dataset seed) can show. */
export function checkClaims(runs: RunTables[]): Claim[] {
  const { sizes, lastMemorised, firstFeatures } = findRegimes(runs);
  const at = (T: number | 'infinity') => runs.filter((r) => r.T === T);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const testLoss = (T: number | 'infinity') => mean(at(T).map((r) => r.summary.testLoss));
  const normW = (T: number | 'infinity') => mean(at(T).map((r) => r.summary.normW));
  const finite = sizes.filter((T): T is number => T !== 'infinity');
  const largest: number | 'infinity' = sizes[sizes.length - 1];

  const claims: Claim[] = [];
  claims.push({
    claim: 'Small training sets are memorised as T-gons: the median example dimensionality is m/T (within 25%) from the smallest T on',
    measured: lastMemorised ? `holds for T = ${finite[0]} … ${lastMemorised}` : `fails at T = ${finite[0]}`,
    expected: 'up to T ≥ 30 (the small-datasets figure)',
    pass: lastMemorised >= 30,
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
  claims.push({
    claim: 'Test loss rises to a peak before the features are learned, above both the small- and the large-data loss (double descent)',
    measured: `peak ${fmt(testLoss(peakT))} at T = ${peakT}; features learned from T = ${firstFeatures === undefined ? 'never' : Tname(firstFeatures)}; ${fmt(testLoss(largest), 4)} at T = ${Tname(largest)}`,
    expected: 'peak between the smallest T and the first feature-learning T, 0.001 above the losses at both ends',
    pass: firstFeatures !== undefined && peakT > finite[0] && peakT < firstFeaturesNum
      && testLoss(peakT) > testLoss(finite[0]) + 1e-3 && testLoss(peakT) > testLoss(largest) + 1e-3,
  });
  const memorisedSizes = finite.filter((T) => T <= lastMemorised);
  const maxNorm = Math.max(...finite.map(normW));
  const rise = memorisedSizes.length ? Math.max(...memorisedSizes.map(normW)) / normW(finite[0]) : 0;
  claims.push({
    claim: '‖W‖ grows while the model memorises and collapses once features are learned',
    measured: `×${fmt(rise)} from T = ${finite[0]} to its memorising maximum; ‖W‖(${Tname(largest)}) / max = ${fmt(normW(largest) / maxNorm)}`,
    expected: 'grows ≥ ×5; falls to ≤ 0.2 of its maximum',
    pass: rise >= 5 && normW(largest) / maxNorm <= 0.2,
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

/** Claims that need runs a profile may not have; listed as not checked until such a sweep is built. */
const NEEDS_SWEEPS: Claim[] = [
  { claim: 'm = 4: larger weight decay shrinks the bump (1.0 removes it)', measured: 'needs a weight-decay sweep', expected: '', pass: null },
  { claim: 'm = 4: more training steps enlarge the bump', measured: 'needs a training-steps sweep', expected: '', pass: null },
  { claim: 'Max feature dimensionality against T·(1 − S) collapses across sparsities', measured: 'needs a sparsity sweep', expected: '', pass: null },
];

/** The tables verify reads for `runs`, from their geometry folders. */
export function readRunTables(runs: RunPlan[]): RunTables[] {
  return runs.map((r) => {
    const summary = readJson(r.files.geometry.summary) as Summary;
    const dims = (file: string) => (readJson(file) as { dimensionality: number }[]).map((row) => row.dimensionality);
    return { T: r.T, m: r.m, datasetSeed: r.datasetSeed, summary, featureDimensionality: dims(r.files.geometry.features), exampleDimensionality: dims(r.files.geometry.examples) };
  });
}

export function formatClaims(claims: Claim[]): string {
  const rows = claims.map((c) => `| ${c.claim} | ${c.measured} | ${c.expected} | ${c.pass === null ? 'not checked' : c.pass ? 'pass' : 'FAIL'} |`);
  return ['| claim | measured | expected | pass |', '|---|---|---|---|', ...rows].join('\n');
}

function main(argv: string[]): number {
  try {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', default: DEFAULT_CONFIG_FILE } } });
    const { name, profile } = selectProfile(loadExperiment(values.config), positionals[0]);
    const plan = planProfile(name, profile);
    const claims: Claim[] = [];
    for (const m of profile.model.hiddenDims) {
      const runs = plan.runs.filter((r) => r.m === m);
      process.stdout.write(`profile ${name}, m = ${m}: ${runs.length} runs\n`);
      claims.push(...checkClaims(readRunTables(runs)));
    }
    claims.push(...NEEDS_SWEEPS);
    process.stdout.write(formatClaims(claims) + '\n');
    const failed = claims.filter((c) => c.pass === false).length;
    const unchecked = claims.filter((c) => c.pass === null).length;
    process.stdout.write(`${claims.length - failed - unchecked} passed, ${failed} failed, ${unchecked} not checked\n`);
    return failed ? 1 : 0;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof FormatError) {
      process.stderr.write(`error: ${e.message}${e instanceof FormatError ? '; build the profile first (npm run build -- <profile>)' : ''}\n`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(main(process.argv.slice(2)));
