import { createHash } from 'node:crypto';

/**
 * The project's one PRNG: xoshiro128** (Blackman & Vigna), 32-bit integer arithmetic only,
 * so every machine produces the same stream bit for bit. Streams are named by a label
 * (e.g. "train/n=1000/S=0.99/T=30/seed=0"); the 128-bit state is the first 16 bytes of
 * SHA-256(label), so differently named streams are independent.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  private constructor(s0: number, s1: number, s2: number, s3: number) {
    this.s0 = s0 | 0;
    this.s1 = s1 | 0;
    this.s2 = s2 | 0;
    this.s3 = s3 | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s3 = 1; // the all-zero state is a fixed point
  }

  static fromLabel(label: string): Rng {
    const d = createHash('sha256').update(label, 'utf8').digest();
    return new Rng(d.readInt32LE(0), d.readInt32LE(4), d.readInt32LE(8), d.readInt32LE(12));
  }

  /** Restores a generator saved by `state()` (a spare normal value, if any, is the fifth entry). */
  static fromState(state: readonly (number | null)[]): Rng {
    const r = new Rng(state[0] as number, state[1] as number, state[2] as number, state[3] as number);
    r.spareNormal = state.length > 4 ? (state[4] as number | null) : null;
    return r;
  }

  /** Everything needed to continue the stream exactly: four state words and the spare normal value. */
  state(): (number | null)[] {
    return [this.s0, this.s1, this.s2, this.s3, this.spareNormal];
  }

  /** The next 32-bit output as an unsigned integer. */
  nextUint32(): number {
    const s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.s1 = s1 ^ n2;
    this.s0 = s0 ^ n3;
    this.s2 = n2 ^ t;
    this.s3 = rotl(n3, 11);
    return result >>> 0;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform on (0, 1]: safe to take the logarithm of. */
  uniformPositive(): number {
    return 1 - this.uniform();
  }

  /** Standard normal by the Box–Muller transform (both values used, in order). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniformPositive()));
    const theta = 2 * Math.PI * this.uniform();
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
