import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadExperiment, parseExperiment, selectProfile } from '../../pipeline/config/load.ts';
import { canonicalJson, isSeedSweep, planProfile, specHash } from '../../pipeline/config/plan.ts';
import { INFINITE, batchSize, isInfinite, sizeId, sizeJson, sizeLabel } from '../../pipeline/config/size.ts';
import { fixtureExperiment } from '../fixtures/experiment.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILE = 'experiment.json';

/** The test-owned experiment file, changed by `mutate`. */
function mutated(mutate: (c: any) => void): any {
  const c = fixtureExperiment();
  mutate(c);
  return c;
}

/** The ConfigError thrown when parsing `raw`; fails the test if none is thrown. */
function configError(raw: unknown): ConfigError {
  try {
    parseExperiment(raw, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

describe("the project's experiment.json", () => {
  it('is valid, and every profile plans distinct run and data set directories', () => {
    const exp = loadExperiment('experiment.json', ROOT);
    expect(exp.profileNames).toContain(exp.defaultProfile);
    for (const name of exp.profileNames) {
      const plan = planProfile(name, exp.profiles[name]);
      expect(new Set(plan.runs.map((r) => r.files.dir)).size).toBe(plan.runs.length);
      expect(new Set(plan.datasets.map((d) => d.files.dir)).size).toBe(plan.datasets.length);
    }
  });
});

describe('planProfile', () => {
  const exp = parseExperiment(fixtureExperiment(), FILE);
  const plan = planProfile('base', exp.profiles.base);

  it('plans one run per (T, m, seed) and one training set per finite (T, seed), in the order of the config', () => {
    expect(plan.runs.map((r) => r.id)).toEqual(['T3-m2-s0', 'T5-m2-s0', 'T30-m2-s0', 'T1000-m2-s0', 'Tinf-m2-s0']);
    expect(plan.datasets.map((d) => [d.id, d.spec.count])).toEqual([['T3-s0', 3], ['T5-s0', 5], ['T30-s0', 30], ['T1000-s0', 1000]]);
    const seeds = planProfile('seeds', exp.profiles.seeds);
    expect(seeds.runs.length).toBe(5 * 4 * 2);
    expect(seeds.datasets.length).toBe(4 * 4);
    expect(new Set(seeds.runs.map((r) => r.files.dir)).size).toBe(40);
  });

  it('gives the infinity run no training set but an online stream, and every finite run its own training set', () => {
    const inf = plan.runs.find((r) => r.T === 'infinity')!;
    expect(inf.dataset).toBeNull();
    expect(inf.spec.onlineLabel).toMatch(/^online\//);
    for (const r of plan.runs) if (r.T !== 'infinity') expect(r.dataset!.spec.count).toBe(r.T);
    for (const r of plan.runs) expect(r.testSet).toBe(plan.testSet);
  });

  it('gives the test set, the training sets and the online stream distinct PRNG labels', () => {
    const labels = [plan.testSet.spec.label, ...plan.datasets.map((d) => d.spec.label), plan.runs.find((r) => r.T === 'infinity')!.spec.onlineLabel];
    expect(new Set(labels).size).toBe(labels.length);
  });

  it('applies a run override to its run only', () => {
    expect(plan.runs.map((r) => r.spec.training.initsPerRun)).toEqual([2, 2, 2, 1, 2]);
  });

  it('applies matching overrides in order, later ones winning, and honours m and seed in an override', () => {
    const e = parseExperiment(mutated((c) => {
      c.profiles.seeds.runOverrides = [
        { T: 30, training: { steps: 500, initsPerRun: 3 } },
        { T: 30, m: 4, training: { steps: 600 } },
        { T: 30, datasetSeed: 2, training: { steps: 700 } },
      ];
    }), FILE);
    const runs = planProfile('seeds', e.profiles.seeds).runs.filter((r) => r.T === 30);
    const steps = Object.fromEntries(runs.map((r) => [r.id, [r.spec.training.steps, r.spec.training.initsPerRun]]));
    expect(steps['T30-m2-s0']).toEqual([500, 3]);
    expect(steps['T30-m4-s1']).toEqual([600, 3]);
    expect(steps['T30-m2-s2']).toEqual([700, 3]);
    expect(steps['T30-m4-s2']).toEqual([700, 3]);
  });

  it('inherits from the parent profile what a child does not set', () => {
    expect(exp.profiles.child.training.peakLearningRate).toBe(exp.profiles.base.training.peakLearningRate);
    expect(exp.profiles.child.training.steps).toBe(400);
    expect(exp.profiles.child.data.sparsity).toBe(0.9);
    expect(exp.profiles.child.data.features).toBe(50);
    expect(exp.profiles.child.runOverrides).toEqual([]);
  });

  it('selectProfile rejects an unknown profile name with a ConfigError listing the profiles', () => {
    expect(() => selectProfile(exp, 'nope')).toThrow(ConfigError);
    expect(() => selectProfile(exp, 'nope')).toThrow(/no profile named "nope".*base, child, seeds/);
  });
});

describe('sweeps: grids of runs beside the main one', () => {
  const withSweeps = () => parseExperiment(mutated((c) => {
    c.profiles.base.sweeps = {
      heatmap: { description: 'T x m', datasetSizes: [5, 30], hiddenDims: [2, 4] },
      'weight-decay': { description: 'm = 4', datasetSizes: [30], hiddenDims: [4], vary: { field: 'weightDecay', values: [0, 0.01, 1] } },
      steps: { description: 'warmup 5%', datasetSizes: [30], vary: { field: 'steps', values: [200, 2000] }, warmupFraction: 0.05 },
      sparsity: { description: 'S', datasetSizes: [30, 'infinity'], sparsities: [0.9, 0.99] },
    };
  }), FILE).profiles.base;

  it('plans each sweep, naming a run by its T, m, seed and the settings that differ from the profile', () => {
    const plan = planProfile('base', withSweeps());
    expect(plan.sweeps['weight-decay'].map((r) => [r.id, r.spec.training.weightDecay])).toEqual([
      ['T30-m4-s0-weightDecay0', 0], ['T30-m4-s0', 0.01], ['T30-m4-s0-weightDecay1', 1],
    ]);
    expect(plan.sweeps.steps.map((r) => [r.id, r.spec.training.steps, r.spec.training.warmupSteps])).toEqual([
      ['T30-m2-s0-steps200-warmupSteps10', 200, 10], ['T30-m2-s0-steps2000', 2000, 100],
    ]);
  });

  it('plans a run that two grids share once: the heat map\'s m = 2 row is the main grid\'s runs', () => {
    const plan = planProfile('base', withSweeps());
    const main = new Map(plan.sweeps.main.map((r) => [r.id, r]));
    for (const r of plan.sweeps.heatmap.filter((r) => r.m === 2)) expect(main.get(r.id)).toBe(r);
    expect(new Set(plan.runs.map((r) => r.id)).size).toBe(plan.runs.length);
    expect(plan.runs.filter((r) => r.id === 'T30-m4-s0')).toHaveLength(1); // heatmap and weight-decay at 0.01
  });

  it('gives each sparsity its own training and test sets, and the profile\'s own sparsity its usual names', () => {
    const plan = planProfile('base', withSweeps());
    expect(plan.testSets.map((d) => [d.id, d.spec.sparsity])).toEqual([['test', 0.9], ['test-S0.99', 0.99]]);
    const runs = plan.sweeps.sparsity.map((r) => [r.id, r.dataset?.id ?? null, r.testSet.id]);
    expect(runs).toEqual([
      ['T30-m2-s0', 'T30-s0', 'test'], ['Tinf-m2-s0', null, 'test'],
      ['T30-m2-s0-S0.99', 'T30-s0-S0.99', 'test-S0.99'], ['Tinf-m2-s0-S0.99', null, 'test-S0.99'],
    ]);
  });

  it('a seed sweep (seeds and sizes alone) adds seeds on the profile\'s own sizes: a child that has fewer sizes keeps those it has', () => {
    const e = parseExperiment(mutated((c) => {
      c.profiles.base.sweeps = { seeds: { description: 'more seeds', datasetSizes: [3, 30, 1000], datasetSeeds: [1, 2] } };
    }), FILE);
    const ids = (p: string) => planProfile(p, e.profiles[p]).sweeps.seeds.map((r) => r.id);
    expect(ids('base')).toEqual(['T3-m2-s1', 'T3-m2-s2', 'T30-m2-s1', 'T30-m2-s2', 'T1000-m2-s1', 'T1000-m2-s2']);
    expect(ids('child')).toEqual(['T3-m2-s1', 'T3-m2-s2']); // child's sizes: 3, 5, infinity
    expect(isSeedSweep({ datasetSizes: [3], datasetSeeds: [1] })).toBe(true);
    expect(isSeedSweep({ datasetSizes: [3], datasetSeeds: [1], training: { steps: 10 } } as never)).toBe(false);
    expect(isSeedSweep({ datasetSizes: [3], hiddenDims: [4] })).toBe(false);
  });

  it('plans a repeated point as its own data set, and an override without T for every run of its m', () => {
    const plan = planProfile('base', parseExperiment(mutated((c) => {
      c.profiles.base.sweeps = {
        repeated: { description: 'r', datasetSizes: [30], repeats: [1, 4], training: { weightSnapshots: 5 } },
        heatmap: { description: 'T x m', datasetSizes: [5, 30], hiddenDims: [2, 4] },
      };
      c.profiles.base.runOverrides.push({ m: 4, training: { initsPerRun: 1 } });
    }), FILE).profiles.base);
    expect(plan.sweeps.repeated.map((r) => [r.id, r.dataset!.id, r.repeats, r.dataset!.spec.repeats])).toEqual([
      ['T30-m2-s0-weightSnapshots5', 'T30-s0', 1, undefined], ['T30-m2-s0-r4-weightSnapshots5', 'T30-s0-r4', 4, 4],
    ]);
    // The repeated set's points are drawn from the plain set's stream.
    expect(plan.datasets.find((d) => d.id === 'T30-s0-r4')!.spec.label).toBe(plan.datasets.find((d) => d.id === 'T30-s0')!.spec.label);
    expect(plan.sweeps.heatmap.map((r) => [r.id, r.spec.training.initsPerRun])).toEqual([
      ['T5-m2-s0', 2], ['T5-m4-s0', 1], ['T30-m2-s0', 2], ['T30-m4-s0', 1],
    ]);
  });

  it('rejects repeats on an infinite or too small T, and an override of an m no grid has', () => {
    const e = configError(mutated((c) => {
      c.profiles.base.sweeps = { r: { description: 'r', datasetSizes: [3, 'infinity'], repeats: [4] } };
      c.profiles.base.runOverrides.push({ m: 7, training: { initsPerRun: 1 } });
    }));
    expect(e.message).toContain('profiles.base.sweeps.r.repeats: expected each T of the sweep to be finite and at least the repeats (4), found 3');
    expect(e.message).toContain('profiles.base.runOverrides.1.m: expected an m of model.hiddenDims or of a sweep, found 7');
  });

  it('rejects a sweep named main, a varied value the field does not allow, and a warmup not below its steps', () => {
    const e = configError(mutated((c) => {
      c.profiles.base.sweeps = {
        main: { description: 'x' },
        wd: { description: 'x', vary: { field: 'weightDecay', values: [0.1, -1] } },
        st: { description: 'x', vary: { field: 'steps', values: [50] } },
      };
    }));
    expect(e.message).toContain('profiles.base.sweeps.main: expected another name');
    expect(e.message).toContain('profiles.base.sweeps.wd.vary.values.1: weightDecay');
    expect(e.message).toContain('profiles.base.sweeps.st.vary.values.0: expected warmupSteps (100) < steps (50) for run T3-m2-s0-steps50');
  });

  it("blames a sweep's warmupFraction when it leaves no step after the warmup", () => {
    const e = configError(mutated((c) => (c.profiles.base.sweeps = { w: { description: 'x', datasetSizes: [30], vary: { field: 'steps', values: [2] }, warmupFraction: 0.9 } })));
    expect(e.message).toBe('experiment.json: profiles.base.sweeps.w.warmupFraction: expected warmupSteps (2) < steps (2) for run T30-m2-s0-steps2-warmupSteps2');
  });
});

describe('parseExperiment rejects bad configurations with a ConfigError naming file, field and value', () => {
  it('steps = -5 is reported at profiles.base.training.steps with "found -5"', () => {
    const e = configError(mutated((c) => (c.profiles.base.training.steps = -5)));
    expect(e.message).toContain('experiment.json');
    expect(e.message).toContain('profiles.base.training.steps');
    expect(e.message).toContain('found -5');
  });

  it('sparsity = 1.5 is reported at profiles.base.data.sparsity', () => {
    const e = configError(mutated((c) => (c.profiles.base.data.sparsity = 1.5)));
    expect(e.message).toContain('experiment.json: profiles.base.data.sparsity');
    expect(e.message).toContain('found 1.5');
  });

  it('sparsity = 1 (every feature always zero) is rejected', () => {
    const e = configError(mutated((c) => (c.profiles.base.data.sparsity = 1)));
    expect(e.message).toContain('profiles.base.data.sparsity');
  });

  it('an unknown field training.lr is named', () => {
    const e = configError(mutated((c) => (c.profiles.base.training.lr = 0.01)));
    expect(e.message).toContain('profiles.base.training');
    expect(e.message).toContain('unknown field "lr"');
  });

  it('warmupSteps >= steps is rejected at profiles.base.training.warmupSteps, once (seeds inherits it)', () => {
    for (const w of [1000, 2000]) {
      const e = configError(mutated((c) => (c.profiles.base.training.warmupSteps = w)));
      expect(e.message).toBe(`experiment.json: profiles.base.training.warmupSteps: expected warmupSteps (${w}) < steps (1000)`);
    }
  });

  it('takes an engine as a well-formed name, and checks that it is registered only when told the engines', () => {
    const gpu = mutated((c) => (c.profiles.base.training.engine = 'gpu'));
    expect(parseExperiment(gpu, FILE).profiles.base.training.engine).toBe('gpu');
    const engines = ['fast', 'reference', 'tfjs'];
    const e = (() => { try { parseExperiment(gpu, FILE, { engines }); } catch (e) { return e as ConfigError; } throw new Error('accepted'); })();
    expect(e).toBeInstanceOf(ConfigError);
    // Reported where it is written (base), not in the profiles that inherit it.
    expect(e.message).toBe('experiment.json: profiles.base.training.engine: expected one of fast, reference, tfjs, found "gpu"');
    const inSweepAndOverride = mutated((c) => {
      c.profiles.base.sweeps = { s: { description: 's', training: { engine: 'webgpu' } } };
      c.profiles.base.runOverrides.push({ T: 30, training: { engine: 'cuda' } });
    });
    const e2 = (() => { try { parseExperiment(inSweepAndOverride, FILE, { engines }); } catch (e) { return e as ConfigError; } throw new Error('accepted'); })();
    expect(e2.message).toContain('experiment.json: profiles.base.sweeps.s.training.engine: expected one of fast, reference, tfjs, found "webgpu"');
    expect(e2.message).toContain('experiment.json: profiles.base.runOverrides.1.training.engine: expected one of fast, reference, tfjs, found "cuda"');
    expect(configError(mutated((c) => (c.profiles.base.training.engine = 'Fast GPU'))).message).toContain('profiles.base.training.engine: expected the name of a training engine');
    expect(parseExperiment(fixtureExperiment(), FILE, { engines }).profiles.base.training.engine).toBe('fast');
  });

  it('"extends" naming a missing profile is an error naming that profile', () => {
    const e = configError(mutated((c) => (c.profiles.child.extends = 'basse')));
    expect(e.message).toContain('profiles.child.extends');
    expect(e.message).toContain('"basse"');
  });

  it('a cycle of "extends" is an error', () => {
    const e = configError(mutated((c) => (c.profiles.base.extends = 'seeds')));
    expect(e.message).toContain('cycle');
  });

  it('a field set wrongly in "child" (which extends "base") is reported at profiles.child', () => {
    const e = configError(mutated((c) => (c.profiles.child.training.peakLearningRate = -1)));
    expect(e.message).toContain('experiment.json: profiles.child.training.peakLearningRate');
    expect(e.message).not.toContain('profiles.base.');
    const e2 = configError(mutated((c) => (c.profiles.child.data.sparsity = 2)));
    expect(e2.message).toContain('profiles.child.data.sparsity');
  });

  it('a cross-field error made by a child profile is reported there (child: warmupSteps 400 with its steps 400)', () => {
    const e = configError(mutated((c) => (c.profiles.child.training.warmupSteps = 400)));
    expect(e.message).toContain('profiles.child.training.warmupSteps');
  });

  it('a runOverride whose T is not in datasetSizes is an error', () => {
    const e = configError(mutated((c) => (c.profiles.base.runOverrides = [{ T: 7, training: { steps: 60_000 } }])));
    expect(e.message).toContain('profiles.base.runOverrides.0.T');
    expect(e.message).toContain('found 7');
  });

  it('a runOverride with an unknown training field is an error naming it', () => {
    const e = configError(mutated((c) => (c.profiles.base.runOverrides = [{ T: 1000, training: { stepz: 10 } }])));
    expect(e.message).toContain('profiles.base.runOverrides.0.training');
    expect(e.message).toContain('stepz');
  });

  it('a runOverride with an invalid training value is an error at its path', () => {
    const e = configError(mutated((c) => (c.profiles.base.runOverrides = [{ T: 1000, training: { steps: 1 } }])));
    expect(e.message).toContain('profiles.base.runOverrides.0.training.steps');
  });

  it('a defaultProfile that names no profile is an error', () => {
    const e = configError(mutated((c) => (c.defaultProfile = 'fast')));
    expect(e.message).toContain('defaultProfile');
    expect(e.message).toContain('"fast"');
  });

  it('a duplicate dataset size is an error', () => {
    const e = configError(mutated((c) => c.profiles.base.datasetSizes.push(30)));
    expect(e.message).toContain('profiles.base.datasetSizes');
  });
});

describe('T = infinity, spelled once (config/size.ts)', () => {
  it('is "infinity" in the config and the code, inf in ids, ∞ in labels, null in rows; its batch is onlineBatchSize', () => {
    expect(INFINITE).toBe('infinity');
    expect([isInfinite(INFINITE), isInfinite(30)]).toEqual([true, false]);
    expect([sizeId(INFINITE), sizeId(30)]).toEqual(['inf', '30']);
    expect([sizeLabel(INFINITE), sizeLabel(2000), sizeLabel(2500), sizeLabel(5)]).toEqual(['∞', '2k', '2500', '5']);
    expect([sizeJson(INFINITE), sizeJson(30)]).toEqual([null, 30]);
    expect([batchSize(INFINITE, { onlineBatchSize: 50 }), batchSize(30, { onlineBatchSize: 50 })]).toEqual([50, 30]);
  });
});

describe('loadExperiment', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'smdd-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rejects a file that is not JSON with a ConfigError containing "not valid JSON" and the file name', () => {
    writeFileSync(join(dir, 'broken.json'), '{ "defaultProfile": "base", ');
    const f = () => loadExperiment('broken.json', dir);
    expect(f).toThrow(ConfigError);
    expect(f).toThrow(/broken\.json: not valid JSON/);
  });

  it('rejects a missing file with a ConfigError naming it', () => {
    const f = () => loadExperiment('missing.json', dir);
    expect(f).toThrow(ConfigError);
    expect(f).toThrow(/missing\.json: cannot be read/);
  });

  it('reports errors of a loaded file under the name it was given', () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(mutated((c) => (c.profiles.base.training.steps = -5))));
    expect(() => loadExperiment('bad.json', dir)).toThrow(/^bad\.json: profiles\.base\.training\.steps/);
  });
});

describe('plan spec hashes', () => {
  const base = parseExperiment(fixtureExperiment(), FILE);
  const hashes = (exp: ReturnType<typeof parseExperiment>) => {
    const plan = planProfile('base', exp.profiles.base);
    return {
      runs: plan.runs.map((r) => [r.id, specHash(r.spec)] as const),
      datasets: [plan.testSet, ...plan.datasets].map((d) => [d.id, specHash(d.spec)] as const),
    };
  };
  const before = hashes(base);

  it('are stable: planning the same profile twice gives the same hashes', () => {
    expect(hashes(parseExperiment(fixtureExperiment(), FILE))).toEqual(before);
  });

  it('canonicalJson ignores key order, so specHash does too', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
    expect(specHash({ b: 1, a: 2 })).toBe(specHash({ a: 2, b: 1 }));
    expect(specHash({ a: 1 })).not.toBe(specHash({ a: 2 }));
  });

  it('a runOverride changing steps for T=1000 changes that run spec only', () => {
    const exp = parseExperiment(mutated((c) => c.profiles.base.runOverrides.push({ T: 1000, training: { steps: 60_000 } })), FILE);
    const plan = planProfile('base', exp.profiles.base);
    expect(plan.runs.find((r) => r.T === 1000)!.spec.training.steps).toBe(60_000);
    const after = hashes(exp);
    const changed = after.runs.filter(([id, h], i) => before.runs[i][0] === id && before.runs[i][1] !== h).map(([id]) => id);
    expect(after.runs.map(([id]) => id)).toEqual(before.runs.map(([id]) => id));
    expect(changed).toEqual(['T1000-m2-s0']);
    expect(after.datasets).toEqual(before.datasets);
  });

  it('changing training.weightDecay changes every run spec but no dataset spec', () => {
    const after = hashes(parseExperiment(mutated((c) => (c.profiles.base.training.weightDecay = 0.02)), FILE));
    expect(after.runs.length).toBe(before.runs.length);
    after.runs.forEach(([id, h], i) => {
      expect(id).toBe(before.runs[i][0]);
      expect(h).not.toBe(before.runs[i][1]);
    });
    expect(after.datasets).toEqual(before.datasets);
  });

  it('changing data.sparsity changes every dataset spec and every run spec', () => {
    const after = hashes(parseExperiment(mutated((c) => (c.profiles.base.data.sparsity = 0.98)), FILE));
    after.datasets.forEach(([, h], i) => expect(h).not.toBe(before.datasets[i][1]));
    after.runs.forEach(([, h], i) => expect(h).not.toBe(before.runs[i][1]));
  });
});

describe('errors name the profile where the mistake is written', () => {
  it('blames the child profile whose steps broke warmupSteps < steps', () => {
    const e = configError(mutated((c) => (c.profiles.seeds.training = { steps: 100 })));
    expect(e.message).toContain('profiles.seeds.training.warmupSteps');
    expect(e.message).not.toContain('profiles.base.');
  });

  it('reports an unknown field in the profile that contains it, whatever the order of profiles', () => {
    const c = mutated((c) => (c.profiles.base.training.lr = 1));
    const reordered = { ...c, profiles: { child: c.profiles.child, base: c.profiles.base, seeds: c.profiles.seeds } };
    const e = configError(reordered);
    expect(e.message).toContain('profiles.base.training.lr: unknown field "lr"');
    expect(e.message).not.toContain('profiles.child.training');
  });

  it("shows a run override's effective values when it breaks a rule between fields", () => {
    const e = configError(mutated((c) => (c.profiles.base.runOverrides = [{ T: 1000, training: { steps: 50 } }])));
    expect(e.message).toContain('profiles.base.runOverrides.0.training.steps');
    expect(e.message).toContain('warmupSteps (100) < steps (50) for run T1000-m2-s0');
  });

  it('reports the errors of every profile, not only the first broken one', () => {
    const e = configError(mutated((c) => {
      c.profiles.base.data.sparsity = 2;
      c.profiles.seeds.model = { hiddenDims: [0] };
    }));
    expect(e.message).toContain('profiles.base.data.sparsity');
    expect(e.message).toContain('profiles.seeds.model');
  });
});
