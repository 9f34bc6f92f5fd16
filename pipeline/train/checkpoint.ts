import { existsSync, rmSync } from 'node:fs';
import { readKind, writeContainer } from '../format/container.ts';
import { FormatError } from '../files/error.ts';
import type { Params } from '../model/toy-model.ts';
import type { SessionState } from '../engines/engine.ts';
import { packSnapshots, unpackSnapshots, type Snapshot } from '../format/snapshots.ts';
import { CHECKPOINT_KIND, CheckpointHeader, type CheckpointMeta } from '../contracts/checkpoint.ts';

export { CHECKPOINT_KIND };

/** Where a run stands between two steps: enough to finish it with the bytes of an uninterrupted run. */
export interface Checkpoint {
  key: string; // spec hash and engine: a checkpoint of another spec or engine is ignored
  init: number; // the init being trained
  nextStep: number; // the first step not yet taken
  inits: { init: number; finalTrainLoss: number }[]; // finished inits
  best: { init: number; loss: number; params: Params; curve: { step: number; loss: number }[]; snapshots: Snapshot[] } | null;
  curve: { step: number; loss: number }[]; // of the current init so far
  snapshots: Snapshot[]; // of the current init so far
  onlineRng: (number | null)[] | null; // the online stream's state, when T is infinity
  session: SessionState;
}

export function writeCheckpoint(file: string, c: Checkpoint): void {
  const { session: s, best } = c;
  const { n, m } = s.params;
  const snaps = packSnapshots(c.snapshots, n, m);
  const arrays: Record<string, Float64Array> = { W: s.params.W, b: s.params.b, m: s.m, v: s.v, snapW: snaps.W, snapB: snaps.b };
  let bestSnapSteps: number[] = [];
  if (best) {
    arrays.bestW = best.params.W;
    arrays.bestB = best.params.b;
    const bs = packSnapshots(best.snapshots, n, m);
    arrays.bestSnapW = bs.W;
    arrays.bestSnapB = bs.b;
    bestSnapSteps = bs.steps;
  }
  const meta: CheckpointMeta = {
    key: c.key, init: c.init, nextStep: c.nextStep, inits: c.inits, curve: c.curve, onlineRng: c.onlineRng,
    n, m, t: s.t, beta1Power: s.beta1Power, beta2Power: s.beta2Power, snapSteps: snaps.steps,
    best: best && { init: best.init, loss: best.loss, curve: best.curve, snapSteps: bestSnapSteps },
  };
  writeContainer(file, { kind: CHECKPOINT_KIND, meta, arrays });
}

/** The checkpoint at `file` if there is one for `key`; a stale or unreadable one is deleted. */
export function readCheckpoint(file: string, key: string, log: (s: string) => void): Checkpoint | null {
  if (!existsSync(file)) return null;
  try {
    const { meta, arrays } = readKind(file, CHECKPOINT_KIND, CheckpointHeader);
    if (meta.key !== key) {
      log(`${file}: checkpoint of another spec or engine, starting afresh`);
      rmSync(file, { force: true });
      return null;
    }
    const a = arrays as Record<string, Float64Array>; // float64, as the header said
    const { n, m } = meta;
    return {
      key, init: meta.init, nextStep: meta.nextStep, inits: meta.inits, curve: meta.curve, onlineRng: meta.onlineRng,
      snapshots: unpackSnapshots(meta.snapSteps, a.snapW, a.snapB, n, m, file),
      best: meta.best && {
        init: meta.best.init, loss: meta.best.loss, curve: meta.best.curve, params: { n, m, W: a.bestW, b: a.bestB },
        snapshots: unpackSnapshots(meta.best.snapSteps, a.bestSnapW, a.bestSnapB, n, m, file),
      },
      session: { params: { n, m, W: a.W, b: a.b }, m: a.m, v: a.v, t: meta.t, beta1Power: meta.beta1Power, beta2Power: meta.beta2Power },
    };
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    log(`${e.message}; ignoring the checkpoint and starting afresh`);
    rmSync(file, { force: true });
    return null;
  }
}
