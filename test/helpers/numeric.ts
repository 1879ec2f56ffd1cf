import assert from "node:assert/strict";

/** Largest |a - b| relative to the largest |b|. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / (den || 1);
}

/** mulberry32: a generator whose whole state is one integer, so it can be saved as JSON. */
export class SeededRandom {
  constructor(public state: number) {}
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** Uniform draws in [0, 1) from a seed, as a function. */
export function seededUniform(seed: number): () => number {
  const rng = new SeededRandom(seed);
  return () => rng.next();
}
