import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadExperiment, parseExperiment, selectProfile } from '../../pipeline/config/load.ts';
import { canonicalJson, planProfile, specHash } from '../../pipeline/config/plan.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const REAL = JSON.parse(readFileSync(join(ROOT, 'experiment.json'), 'utf8'));
const FILE = 'experiment.json';

/** A deep clone of the real experiment file, changed by `mutate`. */
function mutated(mutate: (c: any) => void): any {
  const c = structuredClone(REAL);
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

describe('the real experiment.json', () => {
  const exp = loadExperiment('experiment.json', ROOT);

  it('is valid and defines the post, quick and paper profiles with post as default', () => {
    expect(exp.defaultProfile).toBe('post');
    expect(exp.profileNames).toEqual(['post', 'quick', 'paper']);
    expect(selectProfile(exp, undefined).name).toBe('post');
  });

  it('plans 16 runs and 15 training datasets for "post", with T from 3 to 10000 and infinity, 50,000 steps each', () => {
    const plan = planProfile('post', exp.profiles.post);
    expect(plan.runs.length).toBe(16);
    expect(plan.datasets.length).toBe(15);
    expect(plan.runs.map((r) => r.T)).toEqual([3, 5, 6, 8, 10, 15, 30, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 'infinity']);
    expect(plan.datasets.map((d) => d.spec.count)).toEqual([3, 5, 6, 8, 10, 15, 30, 50, 100, 200, 500, 1000, 2000, 5000, 10000]);
    for (const r of plan.runs) expect(r.spec.training.steps).toBe(50_000);
    expect(plan.runs.every((r) => r.m === 2)).toBe(true);
  });

  it('gives the infinity run no dataset but an online stream, and every finite run its own dataset', () => {
    const plan = planProfile('post', exp.profiles.post);
    const inf = plan.runs.find((r) => r.T === 'infinity')!;
    expect(inf.dataset).toBeNull();
    expect(inf.spec.onlineLabel).toMatch(/^online\//);
    const ids = new Set(plan.datasets.map((d) => d.id));
    for (const r of plan.runs) if (r.T !== 'infinity') expect(ids.has(r.dataset!.id)).toBe(true);
  });

  it('gives the test set, the training sets and the online stream distinct PRNG labels', () => {
    const plan = planProfile('post', exp.profiles.post);
    const labels = [plan.testSet.spec.label, ...plan.datasets.map((d) => d.spec.label), plan.runs.find((r) => r.T === 'infinity')!.spec.onlineLabel];
    expect(new Set(labels).size).toBe(labels.length);
  });

  it('has 4 dataset seeds in "paper" and plans 21 sizes x 4 seeds = 84 runs', () => {
    const paper = exp.profiles.paper;
    expect(paper.data.datasetSeeds).toEqual([0, 1, 2, 3]);
    expect(paper.datasetSizes.length).toBe(21);
    const plan = planProfile('paper', paper);
    expect(plan.runs.length).toBe(21 * 4);
    expect(plan.datasets.length).toBe(20 * 4);
    expect(new Set(plan.runs.map((r) => r.id)).size).toBe(84);
  });

  it('inherits the fields "paper" does not set from "post"', () => {
    expect(exp.profiles.paper.training.steps).toBe(exp.profiles.post.training.steps);
    expect(exp.profiles.paper.training.onlineBatchSize).toBe(10_000);
    expect(exp.profiles.paper.model).toEqual(exp.profiles.post.model);
  });

  it('plans fewer runs for "quick" than for "post"', () => {
    const quick = planProfile('quick', exp.profiles.quick);
    const post = planProfile('post', exp.profiles.post);
    expect(quick.runs.length).toBeLessThan(post.runs.length);
    expect(exp.profiles.quick.training.steps).toBeLessThan(exp.profiles.post.training.steps);
  });

  it('gives every run a distinct id and directory within its profile', () => {
    for (const name of exp.profileNames) {
      const plan = planProfile(name, exp.profiles[name]);
      expect(new Set(plan.runs.map((r) => r.files.dir)).size).toBe(plan.runs.length);
      expect(new Set(plan.datasets.map((d) => d.files.dir)).size).toBe(plan.datasets.length);
    }
  });

  it('selectProfile rejects an unknown profile name with a ConfigError listing the profiles', () => {
    expect(() => selectProfile(exp, 'nope')).toThrow(ConfigError);
    expect(() => selectProfile(exp, 'nope')).toThrow(/no profile named "nope".*post, quick, paper/);
  });
});

describe('parseExperiment rejects bad configurations with a ConfigError naming file, field and value', () => {
  it('steps = -5 is reported at profiles.post.training.steps with "found -5"', () => {
    const e = configError(mutated((c) => (c.profiles.post.training.steps = -5)));
    expect(e.message).toContain('experiment.json');
    expect(e.message).toContain('profiles.post.training.steps');
    expect(e.message).toContain('found -5');
  });

  it('sparsity = 1.5 is reported at profiles.post.data.sparsity', () => {
    const e = configError(mutated((c) => (c.profiles.post.data.sparsity = 1.5)));
    expect(e.message).toContain('experiment.json: profiles.post.data.sparsity');
    expect(e.message).toContain('found 1.5');
  });

  it('sparsity = 1 (every feature always zero) is rejected', () => {
    const e = configError(mutated((c) => (c.profiles.post.data.sparsity = 1)));
    expect(e.message).toContain('profiles.post.data.sparsity');
  });

  it('an unknown field training.lr is named', () => {
    const e = configError(mutated((c) => (c.profiles.post.training.lr = 0.01)));
    expect(e.message).toContain('profiles.post.training');
    expect(e.message).toContain('unknown field "lr"');
  });

  it('warmupSteps >= steps is rejected at profiles.post.training.warmupSteps', () => {
    for (const w of [50_000, 60_000]) {
      const e = configError(mutated((c) => (c.profiles.post.training.warmupSteps = w)));
      expect(e.message).toContain('profiles.post.training.warmupSteps');
      expect(e.message).toContain('warmupSteps < steps');
    }
  });

  it('"extends" naming a missing profile is an error naming that profile', () => {
    const e = configError(mutated((c) => (c.profiles.quick.extends = 'postt')));
    expect(e.message).toContain('profiles.quick.extends');
    expect(e.message).toContain('"postt"');
  });

  it('a cycle of "extends" is an error', () => {
    const e = configError(mutated((c) => (c.profiles.post.extends = 'paper')));
    expect(e.message).toContain('cycle');
  });

  it('a field set wrongly in "quick" (which extends "post") is reported at profiles.quick', () => {
    const e = configError(mutated((c) => (c.profiles.quick.training.peakLearningRate = -1)));
    expect(e.message).toContain('experiment.json: profiles.quick.training.peakLearningRate');
    expect(e.message).not.toContain('profiles.post.');
    const e2 = configError(mutated((c) => (c.profiles.quick.data.sparsity = 2)));
    expect(e2.message).toContain('profiles.quick.data.sparsity');
  });

  it('a cross-field error made by a child profile is reported there (quick: warmupSteps 4000 with its steps 4000)', () => {
    const e = configError(mutated((c) => (c.profiles.quick.training.warmupSteps = 4000)));
    expect(e.message).toContain('profiles.quick.training.warmupSteps');
  });

  it('a runOverride whose T is not in datasetSizes is an error', () => {
    const e = configError(mutated((c) => (c.profiles.post.runOverrides = [{ T: 7, training: { steps: 60_000 } }])));
    expect(e.message).toContain('profiles.post.runOverrides.0.T');
    expect(e.message).toContain('found 7');
  });

  it('a runOverride with an unknown training field is an error naming it', () => {
    const e = configError(mutated((c) => (c.profiles.post.runOverrides = [{ T: 1000, training: { stepz: 10 } }])));
    expect(e.message).toContain('profiles.post.runOverrides.0.training');
    expect(e.message).toContain('stepz');
  });

  it('a runOverride with an invalid training value is an error at its path', () => {
    const e = configError(mutated((c) => (c.profiles.post.runOverrides = [{ T: 1000, training: { steps: 1 } }])));
    expect(e.message).toContain('profiles.post.runOverrides.0.training.steps');
  });

  it('a defaultProfile that names no profile is an error', () => {
    const e = configError(mutated((c) => (c.defaultProfile = 'fast')));
    expect(e.message).toContain('defaultProfile');
    expect(e.message).toContain('"fast"');
  });

  it('a duplicate dataset size is an error', () => {
    const e = configError(mutated((c) => c.profiles.post.datasetSizes.push(30)));
    expect(e.message).toContain('profiles.post.datasetSizes');
  });
});

describe('loadExperiment', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'smdd-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rejects a file that is not JSON with a ConfigError containing "not valid JSON" and the file name', () => {
    writeFileSync(join(dir, 'broken.json'), '{ "defaultProfile": "post", ');
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
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(mutated((c) => (c.profiles.post.training.steps = -5))));
    expect(() => loadExperiment('bad.json', dir)).toThrow(/^bad\.json: profiles\.post\.training\.steps/);
  });
});

describe('plan spec hashes', () => {
  const base = parseExperiment(REAL, FILE);
  const hashes = (exp: ReturnType<typeof parseExperiment>) => {
    const plan = planProfile('post', exp.profiles.post);
    return {
      runs: plan.runs.map((r) => [r.id, specHash(r.spec)] as const),
      datasets: [plan.testSet, ...plan.datasets].map((d) => [d.id, specHash(d.spec)] as const),
    };
  };
  const before = hashes(base);

  it('are stable: planning the same profile twice gives the same hashes', () => {
    expect(hashes(parseExperiment(structuredClone(REAL), FILE))).toEqual(before);
  });

  it('canonicalJson ignores key order, so specHash does too', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
    expect(specHash({ b: 1, a: 2 })).toBe(specHash({ a: 2, b: 1 }));
    expect(specHash({ a: 1 })).not.toBe(specHash({ a: 2 }));
  });

  it('a runOverride changing steps for T=1000 changes that run spec only', () => {
    const exp = parseExperiment(mutated((c) => c.profiles.post.runOverrides.push({ T: 1000, training: { steps: 60_000 } })), FILE);
    const plan = planProfile('post', exp.profiles.post);
    expect(plan.runs.find((r) => r.T === 1000)!.spec.training.steps).toBe(60_000);
    const after = hashes(exp);
    const changed = after.runs.filter(([id, h], i) => before.runs[i][0] === id && before.runs[i][1] !== h).map(([id]) => id);
    expect(after.runs.map(([id]) => id)).toEqual(before.runs.map(([id]) => id));
    expect(changed).toEqual(['T1000-m2-s0']);
    expect(after.datasets).toEqual(before.datasets);
  });

  it('changing training.weightDecay changes every run spec but no dataset spec', () => {
    const after = hashes(parseExperiment(mutated((c) => (c.profiles.post.training.weightDecay = 0.02)), FILE));
    expect(after.runs.length).toBe(before.runs.length);
    after.runs.forEach(([id, h], i) => {
      expect(id).toBe(before.runs[i][0]);
      expect(h).not.toBe(before.runs[i][1]);
    });
    expect(after.datasets).toEqual(before.datasets);
  });

  it('changing data.sparsity changes every dataset spec and every run spec', () => {
    const after = hashes(parseExperiment(mutated((c) => (c.profiles.post.data.sparsity = 0.98)), FILE));
    after.datasets.forEach(([, h], i) => expect(h).not.toBe(before.datasets[i][1]));
    after.runs.forEach(([, h], i) => expect(h).not.toBe(before.runs[i][1]));
  });
});

describe('errors name the profile where the mistake is written', () => {
  it('blames the child profile whose steps broke warmupSteps < steps', () => {
    const e = configError(mutated((c) => (c.profiles.paper.training.steps = 2000)));
    expect(e.message).toContain('profiles.paper.training.warmupSteps');
    expect(e.message).not.toContain('profiles.post.');
  });

  it('reports an unknown field in the profile that contains it, whatever the order of profiles', () => {
    const c = mutated((c) => (c.profiles.post.training.lr = 1));
    const reordered = { ...c, profiles: { quick: c.profiles.quick, post: c.profiles.post, paper: c.profiles.paper } };
    const e = configError(reordered);
    expect(e.message).toContain('profiles.post.training.lr: unknown field "lr"');
    expect(e.message).not.toContain('profiles.quick.training');
  });

  it("shows a run override's effective values when it breaks a rule between fields", () => {
    const e = configError(mutated((c) => (c.profiles.post.runOverrides = [{ T: 1000, training: { steps: 1000 } }])));
    expect(e.message).toContain('profiles.post.runOverrides.0.training.steps');
    expect(e.message).toContain('warmupSteps (2500) < steps (1000)');
  });

  it('reports the errors of every profile, not only the first broken one', () => {
    const e = configError(mutated((c) => {
      c.profiles.post.data.sparsity = 2;
      c.profiles.paper.model = { hiddenDims: [0] };
    }));
    expect(e.message).toContain('profiles.post.data.sparsity');
    expect(e.message).toContain('profiles.paper.model');
  });
});
