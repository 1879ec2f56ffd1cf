// Small-sample statistics for results over seeds: a mean with its spread, and
// the difference between two configurations paired by seed with a 95%
// interval from Student's t (a handful of seeds is far too few for a normal
// approximation).

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n - 1); NaN for fewer than two values. */
  sd: number;
  n: number;
}

export function meanSd(xs: readonly number[]): MeanSd {
  if (xs.length === 0) throw new Error("meanSd: no values.");
  if (xs.some((x) => !Number.isFinite(x))) throw new Error(`meanSd: every value must be a finite number, got [${xs.join(", ")}].`);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : NaN;
  return { mean, sd, n: xs.length };
}

// Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom.
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 0.975 quantile of Student's t with `df` degrees of freedom (1.96 beyond 30, within 2%). */
export function tQuantile975(df: number): number {
  if (!(Number.isInteger(df) && df >= 1)) throw new Error(`tQuantile975: degrees of freedom must be a whole number >= 1, got ${df}.`);
  return df <= T975.length ? T975[df - 1] : 1.96 + 2.4 / df;
}

export interface PairedDifference extends MeanSd {
  /** b[i] - a[i] for each pair. */
  perPair: number[];
  /** 95% interval of the mean difference; NaN with one pair. */
  low: number;
  high: number;
}

/** Mean of b - a over pairs (seeds), with a 95% t interval. */
export function pairedDifference(a: readonly number[], b: readonly number[]): PairedDifference {
  if (a.length !== b.length) throw new Error(`pairedDifference: ${a.length} values against ${b.length}; pair them by seed.`);
  const perPair = a.map((x, i) => b[i] - x);
  const m = meanSd(perPair);
  const half = m.n > 1 ? (tQuantile975(m.n - 1) * m.sd) / Math.sqrt(m.n) : NaN;
  return { ...m, perPair, low: m.mean - half, high: m.mean + half };
}

/**
 * Runs of two configurations paired by seed, in the order the seeds first
 * appear: for each seed its run where `isTreated` holds and its run where it
 * does not, ready for pairedDifference. A seed without exactly one run of each
 * is an error: an unpaired run would shift every pair after it.
 */
export function pairBySeed<R extends { seed: number }>(
  runs: readonly R[],
  isTreated: (r: R) => boolean,
): { seed: number; treated: R; control: R }[] {
  const seeds = [...new Set(runs.map((r) => r.seed))];
  return seeds.map((seed) => {
    const treated = runs.filter((r) => r.seed === seed && isTreated(r));
    const control = runs.filter((r) => r.seed === seed && !isTreated(r));
    if (treated.length !== 1 || control.length !== 1)
      throw new Error(
        `pairBySeed: seed ${seed} has ${treated.length} treated and ${control.length} control runs; a pair needs one of each.`,
      );
    return { seed, treated: treated[0], control: control[0] };
  });
}
