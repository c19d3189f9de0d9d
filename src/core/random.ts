/**
 * Seeded pseudo-random numbers. Every random draw in ssl3d goes through a `Random` that was given an explicit seed;
 * nothing uses `Math.random`.
 *
 * The generator is xoshiro128** (Blackman & Vigna, 2018): 128 bits of state, period 2^128 − 1, good statistical
 * quality, and only 32-bit integer operations (fast in JavaScript). The state is filled from the seed with
 * splitmix32, so any 32-bit seed (including 0) gives a well-mixed start.
 *
 * Child generators: `rng.derive(...keys)` gives an independent generator whose seed is a hash of this generator's
 * *seed* and the keys. It does not advance or depend on this generator's state, so e.g. volume 7 of a data set gets
 * the same numbers whether or not volumes 0–6 were generated. `rng.spawn()` draws a child seed from the stream
 * (MONAI's `Compose.set_random_state` style: each child gets a seed from its parent's generator).
 */

/** The seed-mixing step of splitmix32: a bijective 32-bit hash with good avalanche. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** 32-bit FNV-1a of a string, then mixed. Used to turn string keys into seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h >>> 0);
}

/** Combine a seed with keys (numbers or strings) into a new 32-bit seed, order-sensitively. */
export function deriveSeed(seed: number, ...keys: Array<number | string>): number {
  let h = mix32(seed >>> 0);
  for (const k of keys) {
    const v = typeof k === 'number' ? mix32((k >>> 0) ^ 0x5bd1e995) : hashString(k);
    h = mix32((h ^ v) + Math.imul(h, 31));
  }
  return h >>> 0;
}

/** A seed as accepted on the command line: a non-negative integer below 2^32. */
export function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 4294967295], got ${seed}`);
  }
  return seed;
}

const TWO_POW_32 = 4294967296;

export class Random {
  /** The seed this generator was created from (for manifests and `derive`). */
  readonly seed: number;
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.seed = checkSeed(seed);
    let x = this.seed;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.s1 = s1 ^ n2;
    this.s0 = s0 ^ n3;
    this.s2 = n2 ^ t;
    this.s3 = (n3 << 11) | (n3 >>> 21);
    return result >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi) (numpy `uniform(lo, hi)`); `uniform()` is [0, 1). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.random();
  }

  /**
   * Fill out[start, end) with uniform values in [lo, hi), one 32-bit draw per value (plenty for float32 noise and
   * about twice as fast as calling `uniform` per value).
   */
  fillUniform(out: Float32Array, start: number, end: number, lo: number, hi: number): void {
    const scale = (hi - lo) / TWO_POW_32;
    for (let i = start; i < end; i++) out[i] = lo + this.nextUint32() * scale;
  }

  /** Integer uniform in [lo, hi) (numpy `randint(lo, hi)`), without modulo bias. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi <= lo) {
      throw new RangeError(`int(lo, hi) needs integers with lo < hi, got (${lo}, ${hi})`);
    }
    const range = hi - lo;
    if (range <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % range);
      let r: number;
      do r = this.nextUint32();
      while (r >= limit);
      return lo + (r % range);
    }
    return lo + Math.floor(this.random() * range);
  }

  /** true with probability p. */
  bool(p = 0.5): boolean {
    return this.random() < p;
  }

  /** Normal(mean, std) by the Marsaglia polar method (pairs are cached). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.random() - 1;
      v = 2 * this.random() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * f;
    return mean + std * u * f;
  }

  /** One element of a non-empty array, uniformly. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('choice() of an empty array');
    return items[this.int(0, items.length)];
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /** A random permutation of 0..n−1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** An independent generator keyed by this generator's seed and `keys`; does not touch this generator's state. */
  derive(...keys: Array<number | string>): Random {
    return new Random(deriveSeed(this.seed, ...keys));
  }

  /** A child generator seeded from the next draw of this one (advances this generator). */
  spawn(): Random {
    return new Random(this.nextUint32());
  }

  /** The full state, for checkpointing a random stream. */
  getState(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.every((s) => (s | 0) === 0)) throw new RangeError('invalid xoshiro128** state');
    this.s0 = state[0] | 0;
    this.s1 = state[1] | 0;
    this.s2 = state[2] | 0;
    this.s3 = state[3] | 0;
    this.spareNormal = null;
  }
}
