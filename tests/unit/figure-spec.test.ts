import { fileURLToPath } from 'node:url';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFigure } from '../../pipeline/config/figures.ts';
import { composeSpec, figureParts, figureSpec, frameSpec } from '../../pipeline/render/spec.ts';

/** The project's own figures/, and test-owned workspaces with their own figures/ and parts. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIGURES = readdirSync(join(ROOT, 'figures')).filter((n) => existsSync(join(ROOT, 'figures', n, 'figure.json'))).sort();
const tmp = mkdtempSync(join(tmpdir(), 'smdd-spec-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A workspace holding these files (JSON values), relative to it. */
function workspace(files: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmp, 'ws-'));
  for (const [f, v] of Object.entries(files)) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), typeof v === 'string' ? v : JSON.stringify(v));
  }
  return root;
}

/** Every "$part" named in a file, read as text (not through the code under test), and in the parts those name, transitively. */
function partsByText(file: string, seen = new Set<string>()): Set<string> {
  for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/"\$part":\s*"([^"]+)"/g)) {
    const part = `figures/_shared/${m[1]}.vl.json`;
    if (!seen.has(part)) partsByText(part, seen.add(part));
  }
  return seen;
}

/** Every key of a JSON value, at any depth. */
const keys = (v: unknown): string[] =>
  Array.isArray(v) ? v.flatMap(keys) : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...keys(x)]) : [];

describe("the project's figures", () => {
  it.each(FIGURES)('%s: composes to a Vega-Lite spec with no directive left and figure.json\'s title, said once', (name) => {
    const figure = loadFigure(name, ROOT);
    const { spec } = figureSpec(name, figure, ROOT);
    expect(keys(spec).filter((k) => k.startsWith('$') && k !== '$schema')).toEqual([]);
    expect(spec.$schema).toBe('https://vega.github.io/schema/vega-lite/v6.json');
    expect((spec.title as { text: string }).text).toBe(figure.title);
    expect(readFileSync(join(ROOT, 'figures', name, 'spec.vl.json'), 'utf8')).not.toContain(JSON.stringify(figure.title));
    if (figure.frames) expect(keys(frameSpec(name, figure.frames, ROOT).spec).filter((k) => k.startsWith('$') && k !== '$schema')).toEqual([]);
  });

  it('name, as their inputs, exactly the parts their spec files use (read here as text)', () => {
    for (const name of FIGURES) {
      const figure = loadFigure(name, ROOT);
      const expected = partsByText(`figures/${name}/spec.vl.json`);
      if (figure.frames) partsByText(`figures/${name}/${figure.frames.spec}`, expected);
      expect(figureParts(name, figure, ROOT), name).toEqual([...expected].sort());
    }
    for (const part of readdirSync(join(ROOT, 'figures', '_shared')).filter((f) => f.endsWith('.vl.json')))
      expect(FIGURES.some((n) => figureParts(n, loadFigure(n, ROOT), ROOT).includes(`figures/_shared/${part}`)), `${part} is used by no figure`).toBe(true);
  });

  it('weight-decay and training-steps are one spec, sweep-bump, told apart by four params', () => {
    for (const name of ['weight-decay', 'training-steps']) {
      expect(JSON.parse(readFileSync(join(ROOT, 'figures', name, 'spec.vl.json'), 'utf8'))).toMatchObject({ $part: 'sweep-bump' });
      expect(figureParts(name, loadFigure(name, ROOT), ROOT)).toContain('figures/_shared/sweep-bump.vl.json');
    }
    const wd = figureSpec('weight-decay', loadFigure('weight-decay', ROOT), ROOT).spec as any;
    expect(wd.layer[1].layer[1].transform[1].groupby).toEqual(['T', 'Tx', 'weightDecay']);
    expect(wd.layer[1].layer[1].transform[1].aggregate[0].op).toBe('median');
    expect(wd.layer[1].encoding.color).toMatchObject({ sort: { field: 'weightDecay', op: 'min' }, title: 'weight decay' });
    expect(wd.layer[1].encoding.x).toEqual(JSON.parse(readFileSync(join(ROOT, 'figures/_shared/t-axis.vl.json'), 'utf8')));
  });

  it('double-descent and norms share their T axes, the T = ∞ column and the strip of vector panels', () => {
    const dd = figureParts('double-descent', loadFigure('double-descent', ROOT), ROOT);
    const norms = figureParts('norms', loadFigure('norms', ROOT), ROOT);
    for (const p of ['over-t', 'draws-and-median', 'draws-and-median-at-infinity', 't-axis', 'infinity-axis', 'vector-strip', 'kind-colour'])
      for (const used of [dd, norms]) expect(used).toContain(`figures/_shared/${p}.vl.json`);
    expect(dd).toContain('figures/_shared/regime-bands.vl.json');
    expect(norms).not.toContain('figures/_shared/regime-bands.vl.json');
  });
});

describe('composing a spec', () => {
  const fig = (spec: unknown, more: Record<string, unknown> = {}) =>
    workspace({ 'figures/f/figure.json': { title: 'The title', description: 'd', m: 2, sizes: 'all', tables: ['runs'] }, 'figures/f/spec.vl.json': spec, ...more });
  const compose = (root: string) => figureSpec('f', { title: 'The title' }, root);

  it('puts in a part with its params, parts inside parts, and values that are themselves parts', () => {
    const root = fig(
      { title: { subtitle: 's' }, layer: [{ $part: 'outer', $with: { h: 3, x: { $part: 'axis' } } }, { mark: 'rule' }] },
      {
        'figures/_shared/outer.vl.json': { height: { $param: 'h' }, encoding: { x: { $param: 'x' }, y: { $part: 'axis' } } },
        'figures/_shared/axis.vl.json': { field: 'Tx', type: 'quantitative' },
      },
    );
    const r = compose(root);
    expect(r.spec).toEqual({
      title: { text: 'The title', subtitle: 's' },
      layer: [{ height: 3, encoding: { x: { field: 'Tx', type: 'quantitative' }, y: { field: 'Tx', type: 'quantitative' } } }, { mark: 'rule' }],
    });
    expect(r.parts).toEqual(['figures/_shared/axis.vl.json', 'figures/_shared/outer.vl.json']);
    expect(Object.keys(r.spec.title as object)).toEqual(['text', 'subtitle']);
  });

  it('drops the key of an optional param given no value, and keeps a null given as a value', () => {
    const root = fig(
      { layer: [{ $part: 'p' }, { $part: 'p', $with: { axis: null } }] },
      { 'figures/_shared/p.vl.json': { y: { datum: 1, axis: { $param: 'axis', optional: true } } } },
    );
    expect(compose(root).spec.layer).toEqual([{ y: { datum: 1 } }, { y: { datum: 1, axis: null } }]);
  });

  it('gives a title to a spec with none', () => {
    expect(compose(fig({ mark: 'point' })).spec).toEqual({ mark: 'point', title: { text: 'The title' } });
  });

  const error = (spec: unknown, parts: Record<string, unknown> = {}) => {
    const root = fig(spec, Object.fromEntries(Object.entries(parts).map(([k, v]) => [`figures/_shared/${k}.vl.json`, v])));
    try {
      compose(root);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('no error');
  };

  it('names the figure file, the field and the parts there are when a part does not exist', () => {
    expect(error({ vconcat: [{}, { $part: 'nope' }] }, { 'a-part': {} })).toBe(
      'figures/f/spec.vl.json: vconcat.1.$part: no part "nope": figures/_shared/nope.vl.json does not exist (the parts: a-part)',
    );
    expect(error({ $part: '../f/spec' })).toMatch(/^figures\/f\/spec\.vl\.json: \$part: expected the name of a part in figures\/_shared\//);
    expect(error({ layer: [{ $part: 'p', $with: [1] }] }, { p: {} })).toBe('figures/f/spec.vl.json: layer.0.$with: expected an object of param values');
    expect(error({ layer: [{ $part: 'p', width: 3 }] }, { p: {} })).toMatch(/^figures\/f\/spec\.vl\.json: layer\.0\.width: a \{"\$part": \.\.\.\} holds only "\$part" and "\$with"/);
  });

  it('names the part, the field and where the part was used when a param is missing, unknown or out of place', () => {
    expect(error({ layer: [{ $part: 'p' }] }, { p: { height: { $param: 'h' } } })).toBe(
      'figures/_shared/p.vl.json: height.$param: no value for param "h": give it in the $with of the $part that uses this part\n  in the part used at figures/f/spec.vl.json: layer.0',
    );
    expect(error({ layer: [{ $part: 'p', $with: { h: 1, hieght: 2 } }] }, { p: { height: { $param: 'h' } } })).toBe(
      'figures/f/spec.vl.json: layer.0.$with: part "p" has no param "hieght" (its params: h)',
    );
    expect(error({ width: { $param: 'w' } })).toMatch(/^figures\/f\/spec\.vl\.json: width\.\$param: "w" is a param, and only a part/);
    expect(error({ layer: [{ $prat: 'p' }] })).toMatch(/^figures\/f\/spec\.vl\.json: layer\.0\.\$prat: unknown directive "\$prat"/);
    expect(error({ $part: 'a' }, { a: { layer: [{ $part: 'b' }] }, b: { $part: 'a' } })).toMatch(
      /^figures\/_shared\/b\.vl\.json: \$part: part "a" uses itself \(figures\/f\/spec\.vl\.json -> figures\/_shared\/a\.vl\.json -> figures\/_shared\/b\.vl\.json -> figures\/_shared\/a\.vl\.json\)/,
    );
  });

  it("refuses a title's text in the spec: the title is figure.json's", () => {
    expect(error({ title: { text: 'The title', subtitle: 's' } })).toBe(
      'figures/f/spec.vl.json: title.text: the title is said once, in figures/f/figure.json ("title"); remove it here',
    );
    expect(error({ title: 'The title' })).toMatch(/^figures\/f\/spec\.vl\.json: title: expected \{"subtitle": \.\.\.\}/);
  });

  it('names the file of a part that is not JSON', () => {
    expect(error({ $part: 'bad' }, {})).toMatch(/no part "bad"/);
    const root = fig({ $part: 'bad' }, { 'figures/_shared/bad.vl.json': '{"mark": ' });
    expect(() => compose(root)).toThrow(/figures\/_shared\/bad\.vl\.json/);
  });

  it('composes a spec file that is not a figure spec (a frame spec) the same way, without a title', () => {
    const root = workspace({ 'figures/f/frame.vl.json': { $part: 'p', $with: { w: 2 } }, 'figures/_shared/p.vl.json': { width: { $param: 'w' } } });
    expect(frameSpec('f', { spec: 'frame.vl.json' }, root)).toEqual({ file: 'figures/f/frame.vl.json', spec: { width: 2 }, parts: ['figures/_shared/p.vl.json'] });
    expect(composeSpec('figures/f/frame.vl.json', root).spec).toEqual({ width: 2 });
  });
});
