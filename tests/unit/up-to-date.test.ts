import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { clearStamp, stampFile, upToDate, writeStamp } from '../../pipeline/nx/up-to-date.ts';

/** The stamp that lets a build with nothing changed stop before Nx: every change Nx would see must void it. */
describe('the up-to-date stamp of a build', () => {
  let root: string;
  const put = (rel: string, text: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  const C1 = 'a'.repeat(40), C2 = 'b'.repeat(40);
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'smdd stamp '));
    put('experiment.json', '{"profiles":{}}');
    put('package-lock.json', '{}');
    put('figures/norms/spec.vl.json', '{}');
    put('pipeline/stages/train.ts', 'export {};');
    put('pipeline/kernel/build/kernel.wasm', 'wasm');
    put('data/p/runs/T3/weights.bin', 'w');
    put('dist/p/norms.png', 'png');
    writeStamp(root, 'p', C1, 7);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('holds while nothing changed, and says how many tasks it stands for', () => {
    expect(upToDate(root, 'p', C1)).toMatchObject({ profile: 'p', tasks: 7 });
  });

  it('does not hold for another profile, another commit, or once cleared', () => {
    expect(upToDate(root, 'q', C1)).toBeNull();
    expect(upToDate(root, 'p', C2)).toBeNull();
    expect(upToDate(root, 'p', null)).toBeNull();
    clearStamp(root, 'p');
    expect(upToDate(root, 'p', C1)).toBeNull();
  });

  it.each([
    ['the config', 'experiment.json'],
    ['a figure file', 'figures/norms/spec.vl.json'],
    ['the code', 'pipeline/stages/train.ts'],
    ['the packages', 'package-lock.json'],
  ])('does not hold once %s changes, even by a comment', (_, rel) => {
    put(rel, '// edited\n');
    expect(upToDate(root, 'p', C1)).toBeNull();
  });

  it('does not hold once a code file is added', () => {
    put('pipeline/stages/extra.ts', 'export {};');
    expect(upToDate(root, 'p', C1)).toBeNull();
  });

  it('does not hold once an output is deleted, rewritten or touched, in data, dist or the kernel build', () => {
    for (const rel of ['data/p/runs/T3/weights.bin', 'dist/p/norms.png', 'pipeline/kernel/build/kernel.wasm']) {
      writeStamp(root, 'p', C1, 7);
      rmSync(join(root, rel));
      expect(upToDate(root, 'p', C1), `${rel} deleted`).toBeNull();
      put(rel, 'x');
      writeStamp(root, 'p', C1, 7);
      utimesSync(join(root, rel), new Date(2001, 1, 1), new Date(2001, 1, 1));
      expect(upToDate(root, 'p', C1), `${rel} touched`).toBeNull();
    }
  });

  it('ignores the stamp itself and the benchmark\'s rates, which no task writes', () => {
    put('data/p/rates.json', '{}');
    put('data/p/rates-1-thread.json', '{}');
    expect(upToDate(root, 'p', C1)).not.toBeNull();
  });

  it('is no stamp when it does not read (Nx decides)', () => {
    writeFileSync(stampFile('p', root), '{"kind":');
    expect(upToDate(root, 'p', C1)).toBeNull();
  });
});
