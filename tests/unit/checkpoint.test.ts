import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_KIND, readCheckpoint, writeCheckpoint, type Checkpoint } from '../../pipeline/train/checkpoint.ts';
import { writeContainer } from '../../pipeline/format/container.ts';
import { xavierNormalInit } from '../../pipeline/model/init.ts';
import { Rng } from '../../pipeline/prng/rng.ts';

const dir = mkdtempSync(join(tmpdir(), 'smdd-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sample(inits: number): Checkpoint {
  const r = Rng.fromLabel('checkpoint/moments');
  const moments = () => Float64Array.from({ length: 7 * 3 + 7 }, () => r.normal());
  const online = Rng.fromLabel('checkpoint/online');
  online.normal(); // leaves a spare normal value in the state
  const each = <T>(f: (i: number) => T) => Array.from({ length: inits }, (_, i) => f(i));
  return {
    key: 'spec/fast/2', nextStep: 40,
    curves: each((i) => [{ step: 0, loss: 1.5 + i }, { step: 20, loss: 0.75 + i }]),
    snapshots: each((i) => [0, 20].map((step) => ({ step, params: xavierNormalInit(7, 3, Rng.fromLabel(`checkpoint/snapshot-${i}-${step}`)) }))),
    onlineRng: online.state(),
    sessions: each((i) => ({ params: xavierNormalInit(7, 3, Rng.fromLabel(`checkpoint/params-${i}`)), m: moments(), v: moments().map(Math.abs), t: 40, beta1Power: 0.9 ** 40, beta2Power: 0.999 ** 40 })),
  };
}

const logs: string[] = [];
const log = (s: string) => logs.push(s);

describe('training checkpoints', () => {
  it('round-trip the whole state of every init exactly: weights, moments, step counts, beta powers, curves, snapshots and the online stream', () => {
    for (const inits of [1, 3]) {
      const file = join(dir, `round-${inits}.bin`);
      const c = sample(inits);
      writeCheckpoint(file, c);
      const back = readCheckpoint(file, c.key, log)!;
      expect(back).toEqual(c);
      expect(Rng.fromState(back.onlineRng!).normal()).toBe(Rng.fromState(c.onlineRng!).normal());
    }
  });

  it('are byte-identical when the same state is written twice', () => {
    writeCheckpoint(join(dir, 'a.bin'), sample(3));
    writeCheckpoint(join(dir, 'b.bin'), sample(3));
    expect(readFileSync(join(dir, 'a.bin')).equals(readFileSync(join(dir, 'b.bin')))).toBe(true);
  });

  it('give nothing when there is no checkpoint file', () => {
    expect(readCheckpoint(join(dir, 'none.bin'), 'k', log)).toBeNull();
  });

  it('of another spec or engine are ignored and deleted, with a line saying so', () => {
    const file = join(dir, 'other.bin');
    writeCheckpoint(file, sample(3));
    logs.length = 0;
    expect(readCheckpoint(file, 'another/key', log)).toBeNull();
    expect(existsSync(file)).toBe(false);
    expect(logs.join('\n')).toContain('checkpoint of another spec or engine');
  });

  it('that are truncated or corrupt are ignored and deleted, naming the file', () => {
    for (const damage of ['truncate', 'flip'] as const) {
      const file = join(dir, `${damage}.bin`);
      writeCheckpoint(file, sample(3));
      if (damage === 'truncate') truncateSync(file, 200);
      else {
        const b = readFileSync(file);
        b[b.length - 100] ^= 0xff;
        writeFileSync(file, b);
      }
      logs.length = 0;
      expect(readCheckpoint(file, 'spec/fast/2', log)).toBeNull();
      expect(existsSync(file)).toBe(false);
      expect(logs.join('\n')).toContain(file);
    }
  });

  it('of an earlier checkpoint kind (whose saved losses meant something else) are ignored', () => {
    const file = join(dir, 'old-kind.bin');
    writeContainer(file, { kind: 'training-checkpoint', meta: { key: 'spec/fast/2' }, arrays: {} });
    expect(CHECKPOINT_KIND).not.toBe('training-checkpoint');
    expect(readCheckpoint(file, 'spec/fast/2', log)).toBeNull();
    expect(existsSync(file)).toBe(false);
  });
});
