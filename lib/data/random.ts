// Seeded randomness for data augmentation. Every draw is a function of a few
// integers (seed, epoch, record index, ...) hashed into a seed of its own, never
// of a shared sequence: a worker thread can then make any image's draws without
// knowing what the others did, and a resumed run repeats an interrupted one.

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit seed from a list of integers; order matters, so (1, 2) and (2, 1) differ. */
export function hashSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (!Number.isSafeInteger(p)) throw new Error(`hashSeed: parts must be integers, got ${p}; seeds, epochs and indices are whole numbers.`);
    // Both 32-bit halves count, so epochs or indices above 2^32 still give new streams.
    h = mix32(h ^ mix32((p >>> 0) + 0x632be5ab));
    h = mix32(h ^ mix32(Math.floor(p / 4294967296) >>> 0));
  }
  return h;
}

/** mulberry32: 32 bits of state, fast, and good enough to pick crops and colour shifts. */
export class Random {
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`Random: seed must be an integer, got ${seed}.`);
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in 0..n-1. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal, N(0, 1), by the Box-Muller transform (one of its pair is dropped for simplicity). */
  normal(): number {
    const u = 1 - this.next(); // in (0, 1], so the log is finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** A uniformly random ordering of 0..n-1 (Fisher-Yates), the same for the same seed. */
export function permutation(n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new Error(`permutation: n must be an integer from 0 to 2^31-1, got ${n}.`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const random = new Random(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}
