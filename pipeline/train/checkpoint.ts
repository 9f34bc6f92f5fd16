import { existsSync, rmSync } from 'node:fs';
import { readKind, writeContainer } from '../format/container.ts';
import { FormatError } from '../files/error.ts';
import type { SessionState } from '../engines/engine.ts';
import { packSnapshots, unpackSnapshots, type Snapshot } from '../format/snapshots.ts';
import { CHECKPOINT_KIND, CheckpointHeader, type CheckpointMeta } from '../contracts/checkpoint.ts';

export { CHECKPOINT_KIND };

/** Where a run stands between two steps, every init at the same step: enough to finish it with the bytes of an uninterrupted run. */
export interface Checkpoint {
  key: string; // spec hash and engine: a checkpoint of another spec or engine is ignored
  nextStep: number; // the first step not yet taken
  curves: { step: number; loss: number }[][]; // each init's loss curve so far
  snapshots: Snapshot[][]; // each init's snapshots so far (the same steps for every init)
  onlineRng: (number | null)[] | null; // the online stream's state, when T is infinity
  sessions: SessionState[]; // each init's weights and optimiser state
}

/** Float64 arrays laid end to end. */
const concat = (parts: Float64Array[]) => {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};
/** `a` cut into `k` equal parts, checked against the header's shape. */
function split(a: Float64Array, k: number, size: number, what: string, file: string): Float64Array[] {
  if (a.length !== k * size) throw new FormatError(file, `corrupt: array ${what} has ${a.length} values, the header says ${k} x ${size}`);
  return Array.from({ length: k }, (_, i) => a.slice(i * size, (i + 1) * size));
}

export function writeCheckpoint(file: string, c: Checkpoint): void {
  const { n, m } = c.sessions[0].params;
  const snaps = c.snapshots.map((list) => packSnapshots(list, n, m));
  const arrays: Record<string, Float64Array> = {
    W: concat(c.sessions.map((s) => s.params.W)), b: concat(c.sessions.map((s) => s.params.b)),
    m: concat(c.sessions.map((s) => s.m)), v: concat(c.sessions.map((s) => s.v)),
    snapW: concat(snaps.map((s) => s.W)), snapB: concat(snaps.map((s) => s.b)),
  };
  const meta: CheckpointMeta = {
    key: c.key, nextStep: c.nextStep, curves: c.curves, onlineRng: c.onlineRng, n, m,
    optimiser: c.sessions.map((s) => ({ t: s.t, beta1Power: s.beta1Power, beta2Power: s.beta2Power })),
    snapSteps: snaps[0].steps,
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
    const k = meta.optimiser.length;
    if (meta.curves.length !== k) throw new FormatError(file, `corrupt: ${meta.curves.length} loss curves for ${k} inits`);
    const [W, b, mom1, mom2] = [split(a.W, k, n * m, 'W', file), split(a.b, k, n, 'b', file), split(a.m, k, n * m + n, 'm', file), split(a.v, k, n * m + n, 'v', file)];
    const snapSize = meta.snapSteps.length;
    const [snapW, snapB] = [split(a.snapW, k, snapSize * n * m, 'snapW', file), split(a.snapB, k, snapSize * n, 'snapB', file)];
    return {
      key, nextStep: meta.nextStep, curves: meta.curves, onlineRng: meta.onlineRng,
      snapshots: snapW.map((sw, i) => unpackSnapshots(meta.snapSteps, sw, snapB[i], n, m, file)),
      sessions: meta.optimiser.map((o, i) => ({ params: { n, m, W: W[i], b: b[i] }, m: mom1[i], v: mom2[i], ...o })),
    };
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    log(`${e.message}; ignoring the checkpoint and starting afresh`);
    rmSync(file, { force: true });
    return null;
  }
}
