// A seeded pseudo-random generator (xoshiro128**, state filled by splitmix32) so that one
// integer seed replays a whole simulation exactly. Math.random is never used by the sim.
import assert from 'node:assert/strict';

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    assert.ok(Number.isSafeInteger(seed), `seed must be a safe integer, got ${seed}`);
    // Fold the high bits in too, so seeds above 2^32 are not aliases of smaller ones.
    const next = splitmix32((seed >>> 0) ^ Math.floor(seed / 0x1_0000_0000));
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  /** An integer in [0, maxExclusive); rejection sampling keeps it unbiased. */
  int(maxExclusive: number): number {
    assert.ok(Number.isInteger(maxExclusive) && maxExclusive >= 1 && maxExclusive <= 0x1_0000_0000, `bad bound ${maxExclusive}`);
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % maxExclusive);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % maxExclusive;
    }
  }

  /** An integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    assert.ok(hi >= lo, `empty range [${lo}, ${hi}]`);
    return lo + this.int(hi - lo + 1);
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    assert.ok(items.length > 0, 'pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** A child generator whose stream is independent of later draws from this one. */
  fork(): Prng {
    return new Prng(this.nextU32() * 0x20_0000 + (this.nextU32() & 0x1f_ffff));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A seeded source of integers in [0, maxExclusive), for code that takes a `randomInt` function. */
export function seededInt(seed: number): (maxExclusive: number) => number {
  const prng = new Prng(seed);
  return (maxExclusive) => prng.int(maxExclusive);
}

/** A seeded source of floats in [0, 1), for code that takes a `random` function. */
export function seededFloat(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.float();
}
