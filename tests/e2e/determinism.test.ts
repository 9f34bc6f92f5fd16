import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, listFiles, makeWorkspace, removeWorkspace } from './workspace.ts';

describe('building the quick profile from scratch', () => {
  const dirs = [makeWorkspace('smdd-det-a'), makeWorkspace('smdd-det-b')];
  afterAll(() => dirs.forEach(removeWorkspace));

  it('gives byte-identical SVG and PNG files in two separate directories', async () => {
    const results = await Promise.all(dirs.map((d) => build(d, 'quick')));
    for (const r of results) {
      expect(r.status, r.output.slice(-3000)).toBe(0);
      expect(r.cached, 'a cold build must run every task').toEqual([]);
    }
    const [a, b] = dirs.map((d) => listFiles(join(d, 'dist')));
    expect(a).toEqual(b);
    for (const fig of ['small-datasets', 'double-descent']) {
      expect(a).toContain(`quick/${fig}.svg`);
      expect(a).toContain(`quick/${fig}.png`);
    }
    for (const f of a) {
      const [x, y] = dirs.map((d) => readFileSync(join(d, 'dist', f)));
      expect(x.equals(y), `dist/${f} differs between the two builds`).toBe(true);
    }
    process.stderr.write(`quick profile cold builds: ${results.map((r) => r.seconds.toFixed(1) + ' s').join(', ')}\n`);
  }, 600_000);
});
